package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dcimd/dcimd/internal/fault"
	"github.com/dcimd/dcimd/internal/listq"
)

// UserLister lists users with their server counts.
type UserLister interface {
	ListUsers(ctx context.Context, q listq.Query) ([]User, int, error)
}

// Store is what the auth service persists through.
type Store interface {
	UserStore
	SessionStore
	SettingStore
	UserLister
}

// Options tune the service.
type Options struct {
	DefaultTTL         time.Duration
	FailuresPerAccount int
	FailuresPerAddress int
	FailureWindow      time.Duration
	KeyTTL             time.Duration // one-time keys; one hour by default
	Now                func() time.Time
	Log                *slog.Logger
}

// Service authenticates callers and manages accounts.
type Service struct {
	st      Store
	opt     Options
	now     func() time.Time
	log     *slog.Logger
	byAcct  *failureLimiter
	byAddr  *failureLimiter
	ttlMu   sync.Mutex
	ttl     time.Duration
	ttlRead time.Time
}

// SettingTokenTTL is the settings key of the session inactivity timeout, in minutes.
const SettingTokenTTL = "token_ttl"

// touchEvery limits how often a session's last-use time is written.
const touchEvery = 30 * time.Second

// NewService builds the auth service.
func NewService(st Store, opt Options) *Service {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.KeyTTL == 0 {
		opt.KeyTTL = time.Hour
	}
	if opt.DefaultTTL == 0 {
		opt.DefaultTTL = time.Hour
	}
	if opt.FailureWindow == 0 {
		opt.FailureWindow = 15 * time.Minute
	}
	if opt.FailuresPerAccount == 0 {
		opt.FailuresPerAccount = 10
	}
	if opt.FailuresPerAddress == 0 {
		opt.FailuresPerAddress = 50
	}
	return &Service{
		st: st, opt: opt, now: opt.Now, log: opt.Log,
		byAcct: newFailureLimiter(opt.FailuresPerAccount, opt.FailureWindow),
		byAddr: newFailureLimiter(opt.FailuresPerAddress, opt.FailureWindow),
	}
}

var errBadLogin = fault.Unauthorized("wrong email or password")

// Login checks a password and opens a session.
func (s *Service) Login(ctx context.Context, email, password, addr string) (Principal, error) {
	email = normEmail(email)
	now := s.now()
	acctKey, addrKey := "e:"+email, "a:"+addr
	if s.byAcct.blocked(acctKey, now) || s.byAddr.blocked(addrKey, now) {
		s.log.Warn("login throttled", "email", email, "remote_addr", addr)
		return Principal{}, &fault.Error{Kind: fault.KindRateLimited, Msg: "too many failed logins, try again later"}
	}
	u, err := s.st.GetUserByEmail(ctx, email)
	if err != nil && !errors.Is(err, fault.ErrNotFound) {
		return Principal{}, err
	}
	hash := u.PasswordHash
	if err != nil {
		hash = dummyHash
	}
	ok, herr := CheckPassword(hash, password)
	if herr != nil || !ok || err != nil || u.State != StateActive {
		s.byAcct.fail(acctKey, now)
		s.byAddr.fail(addrKey, now)
		s.log.Warn("login failed", "email", email, "remote_addr", addr)
		return Principal{}, errBadLogin
	}
	s.byAcct.reset(acctKey)
	return s.openSession(ctx, u, addr)
}

func (s *Service) openSession(ctx context.Context, u User, addr string) (Principal, error) {
	tok := NewToken()
	now := s.now()
	sess := Session{TokenHash: HashToken(tok), UserID: u.ID, RemoteAddr: addr, CreatedAt: now, LastSeenAt: now}
	if err := s.st.CreateSession(ctx, &sess); err != nil {
		return Principal{}, fmt.Errorf("create session: %w", err)
	}
	ttl, err := s.TokenTTL(ctx)
	if err != nil {
		return Principal{}, err
	}
	s.log.Info("session opened", "user_id", u.ID, "remote_addr", addr)
	return Principal{User: u, SessionID: sess.ID, Token: tok, ExpiresAt: now.Add(ttl)}, nil
}

// Authenticate resolves a session token and extends its life.
func (s *Service) Authenticate(ctx context.Context, token string) (Principal, error) {
	if token == "" || len(token) > 256 {
		return Principal{}, fault.Unauthorized("Unauthorized")
	}
	sess, u, err := s.st.SessionByHash(ctx, HashToken(token))
	if errors.Is(err, fault.ErrNotFound) {
		return Principal{}, fault.Unauthorized("Unauthorized")
	}
	if err != nil {
		return Principal{}, err
	}
	ttl, err := s.TokenTTL(ctx)
	if err != nil {
		return Principal{}, err
	}
	now := s.now()
	if now.Sub(sess.LastSeenAt) > ttl || u.State != StateActive {
		_ = s.st.DeleteSession(ctx, sess.TokenHash)
		return Principal{}, fault.Unauthorized("Unauthorized")
	}
	if now.Sub(sess.LastSeenAt) > touchEvery {
		if err := s.st.TouchSession(ctx, sess.ID, now); err != nil {
			return Principal{}, fmt.Errorf("touch session: %w", err)
		}
	}
	return Principal{User: u, SessionID: sess.ID, Token: token, ExpiresAt: now.Add(ttl)}, nil
}

// Logout ends the session of token.
func (s *Service) Logout(ctx context.Context, token string) error {
	return s.st.DeleteSession(ctx, HashToken(token))
}

// IssueKey makes a one-time login key for the user named by id or email.
func (s *Service) IssueKey(ctx context.Context, ref string) (User, string, error) {
	u, err := s.lookup(ctx, ref)
	if err != nil {
		return User{}, "", err
	}
	if u.State != StateActive {
		return User{}, "", fault.Conflict("user %d is disabled", u.ID)
	}
	key := NewToken()
	now := s.now()
	k := Key{KeyHash: HashToken(key), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(s.opt.KeyTTL)}
	if err := s.st.CreateKey(ctx, &k); err != nil {
		return User{}, "", fmt.Errorf("create key: %w", err)
	}
	s.log.Info("one-time key issued", "user_id", u.ID)
	return u, key, nil
}

// LoginWithKey spends a one-time key and opens a session.
func (s *Service) LoginWithKey(ctx context.Context, key, addr string) (Principal, error) {
	if key == "" || len(key) > 256 {
		return Principal{}, fault.Unauthorized("invalid or used key")
	}
	k, err := s.st.TakeKey(ctx, HashToken(key))
	if errors.Is(err, fault.ErrNotFound) || (err == nil && s.now().After(k.ExpiresAt)) {
		s.log.Warn("one-time key refused", "remote_addr", addr)
		return Principal{}, fault.Unauthorized("invalid or used key")
	}
	if err != nil {
		return Principal{}, err
	}
	u, err := s.st.GetUser(ctx, k.UserID)
	if err != nil {
		return Principal{}, err
	}
	if u.State != StateActive {
		return Principal{}, fault.Unauthorized("invalid or used key")
	}
	return s.openSession(ctx, u, addr)
}

func (s *Service) lookup(ctx context.Context, ref string) (User, error) {
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
		return s.st.GetUser(ctx, id)
	}
	return s.st.GetUserByEmail(ctx, normEmail(ref))
}

// TokenTTL is the session inactivity timeout, read from settings at most
// every few seconds so that every replica follows a change quickly.
func (s *Service) TokenTTL(ctx context.Context) (time.Duration, error) {
	s.ttlMu.Lock()
	defer s.ttlMu.Unlock()
	now := s.now()
	if s.ttl != 0 && now.Sub(s.ttlRead) < 5*time.Second && !now.Before(s.ttlRead) {
		return s.ttl, nil
	}
	v, ok, err := s.st.GetSetting(ctx, SettingTokenTTL)
	if err != nil {
		return 0, fmt.Errorf("read token_ttl: %w", err)
	}
	ttl := s.opt.DefaultTTL
	if ok {
		if m, err := strconv.Atoi(v); err == nil && m > 0 {
			ttl = time.Duration(m) * time.Minute
		}
	}
	s.ttl, s.ttlRead = ttl, now
	return ttl, nil
}

// SetTokenTTL changes the inactivity timeout (minutes, 1 to 525600).
func (s *Service) SetTokenTTL(ctx context.Context, value string) error {
	m, err := strconv.Atoi(strings.TrimSpace(value))
	if err != nil || m < 1 || m > 525600 {
		return fault.Invalid("value", "must be a number of minutes from 1 to 525600")
	}
	if err := s.st.SetSetting(ctx, SettingTokenTTL, strconv.Itoa(m)); err != nil {
		return err
	}
	s.ttlMu.Lock()
	s.ttl = 0
	s.ttlMu.Unlock()
	return nil
}

// PruneSessions deletes sessions idle longer than the TTL.
func (s *Service) PruneSessions(ctx context.Context) (int64, error) {
	ttl, err := s.TokenTTL(ctx)
	if err != nil {
		return 0, err
	}
	return s.st.DeleteSessionsIdleSince(ctx, s.now().Add(-ttl))
}

func normEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

func checkEmail(e string) error {
	if len(e) > 254 {
		return fault.Invalid("email", "must be at most 254 characters")
	}
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || a.Name != "" {
		return fault.Invalid("email", "is not a valid email address")
	}
	return nil
}

// CheckPasswordStrength refuses passwords that are too weak to keep.
func CheckPasswordStrength(field, pw string) error {
	if len(pw) < 8 {
		return fault.Invalid(field, "must be at least 8 characters")
	}
	if len(pw) > 256 {
		return fault.Invalid(field, "must be at most 256 characters")
	}
	return nil
}
