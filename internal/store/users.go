package store

import (
	"context"

	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/dcimd/dcimd/internal/auth"
	"github.com/dcimd/dcimd/internal/fault"
	"github.com/dcimd/dcimd/internal/listq"
)

// Auth implements auth.Store.
type Auth struct{ db *DB }

type userRow struct {
	ID           int64 `gorm:"column:id;primaryKey"`
	Email        string
	FullName     string `gorm:"column:full_name"`
	PhoneNumber  string `gorm:"column:phone_number"`
	PasswordHash string `gorm:"column:password_hash"`
	Role         string
	State        string
	VlansPerUser int `gorm:"column:vlans_per_user"`
	ServerCount  int `gorm:"column:server_count;->"`
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

func (r userRow) user() auth.User {
	return auth.User{ID: r.ID, Email: r.Email, FullName: r.FullName, PhoneNumber: r.PhoneNumber, PasswordHash: r.PasswordHash,
		Role: r.Role, State: r.State, VlansPerUser: r.VlansPerUser, ServerCount: r.ServerCount, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

func fromUser(u *auth.User) userRow {
	return userRow{ID: u.ID, Email: u.Email, FullName: u.FullName, PhoneNumber: u.PhoneNumber, PasswordHash: u.PasswordHash,
		Role: u.Role, State: u.State, VlansPerUser: u.VlansPerUser, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

func (a *Auth) users(ctx context.Context) *gorm.DB { return a.db.gorm.WithContext(ctx).Table("users") }

// GetUser reads a user by id.
func (a *Auth) GetUser(ctx context.Context, id int64) (auth.User, error) {
	var r userRow
	if err := a.users(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return auth.User{}, translate(err, "user", id)
	}
	return r.user(), nil
}

// GetUserByEmail reads a user by email (stored lower-case).
func (a *Auth) GetUserByEmail(ctx context.Context, email string) (auth.User, error) {
	var r userRow
	if err := a.users(ctx).Where("email = ?", email).Take(&r).Error; err != nil {
		return auth.User{}, translate(err, "user", email)
	}
	return r.user(), nil
}

// CreateUser inserts a user.
func (a *Auth) CreateUser(ctx context.Context, u *auth.User) error {
	r := fromUser(u)
	if err := a.users(ctx).Omit("id", "server_count").Create(&r).Error; err != nil {
		return translate(err, "user", nil)
	}
	u.ID = r.ID
	return nil
}

// UpdateUser writes a user.
func (a *Auth) UpdateUser(ctx context.Context, u *auth.User) error {
	r := fromUser(u)
	res := a.users(ctx).Where("id = ?", u.ID).Select("*").Omit("id", "created_at", "server_count").Updates(&r)
	if res.Error != nil {
		return translate(res.Error, "user", u.ID)
	}
	if res.RowsAffected == 0 {
		return fault.NotFound("user", u.ID)
	}
	return nil
}

// CountAdmins counts active admins.
func (a *Auth) CountAdmins(ctx context.Context) (int, error) {
	var n int64
	err := a.users(ctx).Where("role = ? AND state = ?", auth.RoleAdmin, auth.StateActive).Count(&n).Error
	return int(n), err
}

// DeleteUser removes a user, releasing its servers, unless it is the last
// active admin. Admin rows are locked so two deletions cannot both pass; they
// are locked in id order before the user's own row, so two deletions of
// admins queue on the same first row instead of each holding one admin and
// waiting for the other (a deadlock on PostgreSQL).
func (a *Auth) DeleteUser(ctx context.Context, id int64) error {
	return a.db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var admins []int64
		lq := tx.Table("users").Where("role = ? AND state = ?", auth.RoleAdmin, auth.StateActive).Order("id")
		if a.db.IsPostgres() {
			lq = lq.Clauses(clause.Locking{Strength: "UPDATE"})
		}
		if err := lq.Pluck("id", &admins).Error; err != nil {
			return err
		}
		var r userRow
		q := tx.Table("users").Where("id = ?", id)
		if a.db.IsPostgres() {
			q = q.Clauses(clause.Locking{Strength: "UPDATE"})
		}
		if err := q.Take(&r).Error; err != nil {
			return translate(err, "user", id)
		}
		if r.Role == auth.RoleAdmin && r.State == auth.StateActive && len(admins) <= 1 {
			return fault.Conflict("user %d is the last admin and cannot be deleted", id)
		}
		if err := releaseServerIPs(tx, "owner_id = ?", id); err != nil {
			return err
		}
		if err := tx.Exec(`UPDATE servers SET owner_id = NULL, updated_at = ? WHERE owner_id = ?`, time.Now().UTC(), id).Error; err != nil {
			return err
		}
		return tx.Exec(`DELETE FROM users WHERE id = ?`, id).Error
	})
}

var userFields = listq.Fields{"id": fInt("users.id"), "email": fStr("users.email"), "full_name": fStr("users.full_name"),
	"phone_number": fStr("users.phone_number"), "roles": fStr("'[' || users.role || ']'"), "role": fStr("users.role"),
	"state": fStr("users.state"), "vlans_per_user": fInt("users.vlans_per_user"), "created_at": fTime("users.created_at"),
	"server_count": fInt("(SELECT COUNT(*) FROM servers sc WHERE sc.owner_id = users.id)")}

// ListUsers lists users with how many servers each owns.
func (a *Auth) ListUsers(ctx context.Context, q listq.Query) ([]auth.User, int, error) {
	var rows []userRow
	n, err := a.db.list(a.users(ctx), "users.*, "+userFields["server_count"].Expr+" AS server_count", userFields, q, "users.id", &rows)
	if err != nil {
		return nil, 0, err
	}
	out := make([]auth.User, len(rows))
	for i, r := range rows {
		out[i] = r.user()
	}
	return out, n, nil
}

type sessionRow struct {
	ID         int64  `gorm:"column:id;primaryKey"`
	TokenHash  string `gorm:"column:token_hash"`
	UserID     int64  `gorm:"column:user_id"`
	RemoteAddr string `gorm:"column:remote_addr"`
	CreatedAt  time.Time
	LastSeenAt time.Time `gorm:"column:last_seen_at"`
}

// CreateSession stores a session.
func (a *Auth) CreateSession(ctx context.Context, s *auth.Session) error {
	// UTC like every other stored time: SQLite compares the stored text, so
	// a local-zone last_seen_at would be pruned early or late.
	r := sessionRow{TokenHash: s.TokenHash, UserID: s.UserID, RemoteAddr: s.RemoteAddr, CreatedAt: s.CreatedAt.UTC(),
		LastSeenAt: s.LastSeenAt.UTC()}
	if err := a.db.gorm.WithContext(ctx).Table("sessions").Omit("id").Create(&r).Error; err != nil {
		return translate(err, "session", nil)
	}
	s.ID = r.ID
	return nil
}

// SessionByHash reads a session and its user in one query.
func (a *Auth) SessionByHash(ctx context.Context, hash string) (auth.Session, auth.User, error) {
	var r struct {
		SID        int64     `gorm:"column:sid"`
		SUserID    int64     `gorm:"column:suser_id"`
		SCreatedAt time.Time `gorm:"column:screated_at"`
		SLastSeen  time.Time `gorm:"column:slast_seen_at"`
		SAddr      string    `gorm:"column:sremote_addr"`
		U          userRow   `gorm:"embedded"`
	}
	err := a.db.gorm.WithContext(ctx).Raw(`SELECT s.id AS sid, s.user_id AS suser_id, s.created_at AS screated_at,
		s.last_seen_at AS slast_seen_at, s.remote_addr AS sremote_addr, u.*
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?`, hash).Take(&r).Error
	if err != nil {
		return auth.Session{}, auth.User{}, translate(err, "session", "")
	}
	return auth.Session{ID: r.SID, TokenHash: hash, UserID: r.SUserID, RemoteAddr: r.SAddr, CreatedAt: r.SCreatedAt, LastSeenAt: r.SLastSeen},
		r.U.user(), nil
}

// TouchSession records the session's last use.
func (a *Auth) TouchSession(ctx context.Context, id int64, at time.Time) error {
	return a.db.gorm.WithContext(ctx).Exec(`UPDATE sessions SET last_seen_at = ? WHERE id = ?`, at.UTC(), id).Error
}

// DeleteSession ends one session (no error when already gone).
func (a *Auth) DeleteSession(ctx context.Context, hash string) error {
	return a.db.gorm.WithContext(ctx).Exec(`DELETE FROM sessions WHERE token_hash = ?`, hash).Error
}

// DeleteUserSessions ends every session of a user except one.
func (a *Auth) DeleteUserSessions(ctx context.Context, userID, except int64) error {
	return a.db.gorm.WithContext(ctx).Exec(`DELETE FROM sessions WHERE user_id = ? AND id <> ?`, userID, except).Error
}

// DeleteSessionsIdleSince prunes sessions unused since before.
func (a *Auth) DeleteSessionsIdleSince(ctx context.Context, before time.Time) (int64, error) {
	res := a.db.gorm.WithContext(ctx).Exec(`DELETE FROM sessions WHERE last_seen_at < ?`, before.UTC())
	return res.RowsAffected, res.Error
}

// CreateKey stores a one-time key.
func (a *Auth) CreateKey(ctx context.Context, k *auth.Key) error {
	return a.db.gorm.WithContext(ctx).Raw(`INSERT INTO auth_keys (key_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?) RETURNING id`,
		k.KeyHash, k.UserID, k.CreatedAt.UTC(), k.ExpiresAt.UTC()).Scan(&k.ID).Error
}

// TakeKey deletes and returns a key so that it works exactly once.
func (a *Auth) TakeKey(ctx context.Context, hash string) (auth.Key, error) {
	var k auth.Key
	err := a.db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var r struct {
			ID        int64
			UserID    int64 `gorm:"column:user_id"`
			CreatedAt time.Time
			ExpiresAt time.Time `gorm:"column:expires_at"`
		}
		if err := tx.Raw(`SELECT id, user_id, created_at, expires_at FROM auth_keys WHERE key_hash = ?`, hash).Take(&r).Error; err != nil {
			return translate(err, "key", "")
		}
		res := tx.Exec(`DELETE FROM auth_keys WHERE id = ?`, r.ID)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 { // spent by a concurrent request
			return fault.NotFound("key", "")
		}
		k = auth.Key{ID: r.ID, KeyHash: hash, UserID: r.UserID, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt}
		return nil
	})
	return k, err
}

// GetSetting reads a setting.
func (a *Auth) GetSetting(ctx context.Context, name string) (string, bool, error) {
	var vals []string
	if err := a.db.gorm.WithContext(ctx).Raw(`SELECT value FROM settings WHERE name = ?`, name).Scan(&vals).Error; err != nil {
		return "", false, err
	}
	if len(vals) == 0 {
		return "", false, nil
	}
	return vals[0], true, nil
}

// SetSetting writes a setting.
func (a *Auth) SetSetting(ctx context.Context, name, value string) error {
	return a.db.gorm.WithContext(ctx).Exec(`INSERT INTO settings (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value).Error
}

var _ auth.Store = (*Auth)(nil)
