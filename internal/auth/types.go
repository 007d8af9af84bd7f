// Package auth holds users, roles, sessions, one-time keys and login
// throttling. Tokens are random; only their SHA-256 hashes are stored.
package auth

import (
	"context"
	"time"
)

// Roles.
const (
	RoleAdmin = "@admin"
	RoleUser  = "@user"
)

// User states.
const (
	StateActive   = "active"
	StateDisabled = "disabled"
)

// User is an account.
type User struct {
	ID           int64
	Email        string
	FullName     string
	PhoneNumber  string
	PasswordHash string
	Role         string
	State        string
	VlansPerUser int
	ServerCount  int // filled by lists
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// IsAdmin reports the admin role.
func (u *User) IsAdmin() bool { return u.Role == RoleAdmin }

// Session is a logged-in client.
type Session struct {
	ID         int64
	TokenHash  string
	UserID     int64
	RemoteAddr string
	CreatedAt  time.Time
	LastSeenAt time.Time
}

// Key is a one-time login key.
type Key struct {
	ID        int64
	KeyHash   string
	UserID    int64
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Principal is the authenticated caller of one request.
type Principal struct {
	User      User
	SessionID int64
	Token     string
	ExpiresAt time.Time
}

// IsAdmin reports the admin role.
func (p *Principal) IsAdmin() bool { return p.User.IsAdmin() }

// UserStore persists users.
type UserStore interface {
	GetUser(ctx context.Context, id int64) (User, error)
	GetUserByEmail(ctx context.Context, email string) (User, error)
	CreateUser(ctx context.Context, u *User) error
	UpdateUser(ctx context.Context, u *User) error
	// DeleteUser removes a user and releases its servers; it refuses to
	// remove the last active admin (ErrConflict), atomically.
	DeleteUser(ctx context.Context, id int64) error
	CountAdmins(ctx context.Context) (int, error)
}

// SessionStore persists sessions and keys.
type SessionStore interface {
	CreateSession(ctx context.Context, s *Session) error
	// SessionByHash returns the session and its user.
	SessionByHash(ctx context.Context, hash string) (Session, User, error)
	TouchSession(ctx context.Context, id int64, at time.Time) error
	DeleteSession(ctx context.Context, hash string) error
	DeleteUserSessions(ctx context.Context, userID int64, except int64) error
	DeleteSessionsIdleSince(ctx context.Context, before time.Time) (int64, error)
	CreateKey(ctx context.Context, k *Key) error
	// TakeKey deletes the key with that hash and returns it: a key works once.
	TakeKey(ctx context.Context, hash string) (Key, error)
}

// SettingStore persists named settings.
type SettingStore interface {
	GetSetting(ctx context.Context, name string) (string, bool, error)
	SetSetting(ctx context.Context, name, value string) error
}
