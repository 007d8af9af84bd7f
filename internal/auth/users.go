package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/dcimd/dcimd/internal/fault"
	"github.com/dcimd/dcimd/internal/listq"
)

// UserInput is a create or an edit; nil fields stay as they are.
type UserInput struct {
	Email        *string
	FullName     *string
	Password     *string
	PhoneNumber  *string
	Role         *string
	State        *string
	VlansPerUser *int
}

func (in UserInput) apply(u *User) error {
	if in.Email != nil {
		e := normEmail(*in.Email)
		if err := checkEmail(e); err != nil {
			return err
		}
		u.Email = e
	}
	if in.FullName != nil {
		if len(*in.FullName) > 255 {
			return fault.Invalid("full_name", "must be at most 255 characters")
		}
		u.FullName = *in.FullName
	}
	if in.PhoneNumber != nil {
		if len(*in.PhoneNumber) > 64 {
			return fault.Invalid("phone_number", "must be at most 64 characters")
		}
		u.PhoneNumber = *in.PhoneNumber
	}
	if in.Role != nil {
		if *in.Role != RoleAdmin && *in.Role != RoleUser {
			return fault.Invalid("role", "must be @admin or @user")
		}
		u.Role = *in.Role
	}
	if in.State != nil {
		if *in.State != StateActive && *in.State != StateDisabled {
			return fault.Invalid("state", "must be active or disabled")
		}
		u.State = *in.State
	}
	if in.VlansPerUser != nil {
		if *in.VlansPerUser < 0 || *in.VlansPerUser > 4094 {
			return fault.Invalid("vlans_per_user", "must be between 0 and 4094")
		}
		u.VlansPerUser = *in.VlansPerUser
	}
	if in.Password != nil {
		if err := CheckPasswordStrength("password", *in.Password); err != nil {
			return err
		}
		h, err := HashPassword(*in.Password)
		if err != nil {
			return err
		}
		u.PasswordHash = h
	}
	return nil
}

// CreateUser adds an account.
func (s *Service) CreateUser(ctx context.Context, in UserInput) (User, error) {
	switch {
	case in.Email == nil:
		return User{}, fault.Invalid("email", "is required")
	case in.Password == nil:
		return User{}, fault.Invalid("password", "is required")
	}
	now := s.now()
	u := User{Role: RoleUser, State: StateActive, VlansPerUser: 5, CreatedAt: now, UpdatedAt: now}
	if err := in.apply(&u); err != nil {
		return User{}, err
	}
	if err := s.st.CreateUser(ctx, &u); err != nil {
		if errors.Is(err, fault.ErrConflict) {
			return User{}, fault.Conflict("a user with email %q already exists", u.Email)
		}
		return User{}, err
	}
	s.log.Info("user created", "user_id", u.ID, "role", u.Role)
	return u, nil
}

// UpdateUser edits an account. Demoting or disabling the last admin is refused.
func (s *Service) UpdateUser(ctx context.Context, id int64, in UserInput) (User, error) {
	u, err := s.st.GetUser(ctx, id)
	if err != nil {
		return User{}, err
	}
	wasAdmin := u.IsAdmin() && u.State == StateActive
	if err := in.apply(&u); err != nil {
		return User{}, err
	}
	if wasAdmin && (!u.IsAdmin() || u.State != StateActive) {
		n, err := s.st.CountAdmins(ctx)
		if err != nil {
			return User{}, err
		}
		if n <= 1 {
			return User{}, fault.Conflict("user %d is the last admin", id)
		}
	}
	u.UpdatedAt = s.now()
	if err := s.st.UpdateUser(ctx, &u); err != nil {
		if errors.Is(err, fault.ErrConflict) {
			return User{}, fault.Conflict("a user with email %q already exists", u.Email)
		}
		return User{}, err
	}
	if in.Password != nil || u.State != StateActive {
		if err := s.st.DeleteUserSessions(ctx, u.ID, 0); err != nil {
			return User{}, fmt.Errorf("end sessions: %w", err)
		}
	}
	return u, nil
}

// SetPassword changes a password: admins for anyone, users for themselves.
// The caller's other sessions end; the current one stays.
func (s *Service) SetPassword(ctx context.Context, actor Principal, ref, pw string) error {
	u, err := s.lookup(ctx, ref)
	if err != nil {
		return err
	}
	if !actor.IsAdmin() && actor.User.ID != u.ID {
		return fault.Forbidden("you may change only your own password")
	}
	if err := CheckPasswordStrength("password", pw); err != nil {
		return err
	}
	h, err := HashPassword(pw)
	if err != nil {
		return err
	}
	u.PasswordHash, u.UpdatedAt = h, s.now()
	if err := s.st.UpdateUser(ctx, &u); err != nil {
		return err
	}
	keep := int64(0)
	if actor.User.ID == u.ID {
		keep = actor.SessionID
	}
	return s.st.DeleteUserSessions(ctx, u.ID, keep)
}

// DeleteUser removes an account and releases its servers.
func (s *Service) DeleteUser(ctx context.Context, id int64) error {
	if err := s.st.DeleteUser(ctx, id); err != nil {
		return err
	}
	s.log.Info("user deleted", "user_id", id)
	return nil
}

// GetUser returns one account.
func (s *Service) GetUser(ctx context.Context, id int64) (User, error) { return s.st.GetUser(ctx, id) }

// ListUsers lists accounts.
func (s *Service) ListUsers(ctx context.Context, q listq.Query) ([]User, int, error) {
	return s.st.ListUsers(ctx, q)
}

// EnsureAdmin creates the first admin when no active admin exists. With an
// empty password it generates one and returns it so the caller can print it
// once; it returns "" when nothing was created.
func (s *Service) EnsureAdmin(ctx context.Context, email, password string) (string, error) {
	n, err := s.st.CountAdmins(ctx)
	if err != nil {
		return "", err
	}
	if n > 0 {
		return "", nil
	}
	if email == "" {
		email = "admin@example.com"
	}
	if password == "" {
		password = GeneratePassword()
	}
	role := RoleAdmin
	if _, err := s.CreateUser(ctx, UserInput{Email: &email, Password: &password, Role: &role}); err != nil {
		if errors.Is(err, fault.ErrConflict) { // another replica created it first
			return "", nil
		}
		return "", fmt.Errorf("create first admin: %w", err)
	}
	return password, nil
}

// PasswordWorks reports whether pw is the current password of email. It
// does not count as a login attempt.
func (s *Service) PasswordWorks(ctx context.Context, email, pw string) bool {
	u, err := s.st.GetUserByEmail(ctx, normEmail(email))
	if err != nil {
		return false
	}
	ok, err := CheckPassword(u.PasswordHash, pw)
	return err == nil && ok
}
