package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/dcimd/dcimd/internal/fault"
	"github.com/dcimd/dcimd/internal/netboot/httpboot"
)

// BootTokens keeps the one-time phone-home tokens of HTTP boot and what
// installers and agents reported with them. It implements httpboot.Events.
type BootTokens struct{ db *DB }

// BootTokens returns the boot token store.
func (d *DB) BootTokens() *BootTokens { return &BootTokens{db: d} }

// hashBootToken is what the database keeps of a token: its SHA-256, hex
// (like sessions).
func hashBootToken(tok string) string {
	s := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(s[:])
}

// IssueToken makes a token for a server (and the task that boots it, if
// any), good for ttl or until it reports success or fail. Only its hash is
// stored; the plaintext is returned once, for the kernel command line.
// The token is 43 URL-safe characters (32 random bytes).
func (b *BootTokens) IssueToken(ctx context.Context, serverID int64, taskID *int64, purpose string, ttl time.Duration) (string, error) {
	if ttl <= 0 {
		return "", fault.Invalid("ttl", "must be positive")
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("boot token: %w", err)
	}
	tok := base64.RawURLEncoding.EncodeToString(raw)
	now := time.Now().UTC()
	g := b.db.gorm.WithContext(ctx)
	var n int64
	if err := g.Table("servers").Where("id = ?", serverID).Count(&n).Error; err != nil {
		return "", err
	}
	if n == 0 {
		return "", fault.NotFound("server", serverID)
	}
	row := map[string]any{"token_hash": hashBootToken(tok), "server_id": serverID, "task_id": taskID, "purpose": purpose,
		"created_at": now, "expires_at": now.Add(ttl)}
	if err := g.Table("boot_tokens").Create(row).Error; err != nil {
		return "", translate(err, "boot token", nil)
	}
	return tok, nil
}

type bootTokenRow struct {
	ID        int64
	ServerID  int64  `gorm:"column:server_id"`
	TaskID    *int64 `gorm:"column:task_id"`
	Purpose   string
	ExpiresAt time.Time  `gorm:"column:expires_at"`
	UsedAt    *time.Time `gorm:"column:used_at"`
}

// Report records an event under a live token: httpboot.ErrUnknownToken
// when no such token was issued, httpboot.ErrTokenSpent when it expired
// (at ev.At, or now when that is zero) or already reported success or
// fail. A final status spends the token in the same transaction, so of two
// racing final reports one wins and the other is refused.
func (b *BootTokens) Report(ctx context.Context, token string, ev httpboot.Event) error {
	if !ev.Status.Valid() {
		return fault.Invalid("status", "want started, progress, success or fail")
	}
	if ev.Percent != nil && (*ev.Percent < 0 || *ev.Percent > 100) {
		return fault.Invalid("percent", "want 0 to 100")
	}
	at := ev.At.UTC()
	if ev.At.IsZero() {
		at = time.Now().UTC()
	}
	return b.db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		q := tx.Table("boot_tokens").Select("id, server_id, task_id, purpose, expires_at, used_at").
			Where("token_hash = ?", hashBootToken(token))
		if b.db.IsPostgres() {
			q = q.Clauses(clause.Locking{Strength: "UPDATE"})
		}
		var t bootTokenRow
		if err := q.Take(&t).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return httpboot.ErrUnknownToken
			}
			return err
		}
		// Read, then judged: an unknown token and a spent one answer differently.
		if t.UsedAt != nil || !at.Before(t.ExpiresAt) {
			return httpboot.ErrTokenSpent
		}
		if err := tx.Table("boot_events").Create(map[string]any{"token_id": t.ID, "server_id": t.ServerID, "task_id": t.TaskID,
			"purpose": t.Purpose, "at": at, "status": string(ev.Status), "message": storable(ev.Message), "percent": ev.Percent,
			"log": storable(ev.Log), "remote_addr": storable(ev.RemoteAddr)}).Error; err != nil {
			return translate(err, "boot event", nil)
		}
		if !ev.Status.Final() {
			return nil
		}
		return tx.Exec(`UPDATE boot_tokens SET used_at = ?, final_status = ? WHERE id = ?`, at, string(ev.Status), t.ID).Error
	})
}

// storable is text PostgreSQL accepts: valid UTF-8 without NUL (SQLite
// would take either, and the two dialects keep the same text).
func storable(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

// BootEventQuery selects phone-home events: those of a server, of a task,
// or of a task on a server. Limit > 0 keeps only the newest that many.
type BootEventQuery struct {
	ServerID int64
	TaskID   int64
	Limit    int
}

// Events lists phone-home events, oldest first.
func (b *BootTokens) Events(ctx context.Context, q BootEventQuery) ([]httpboot.Record, error) {
	if q.ServerID == 0 && q.TaskID == 0 {
		return nil, fault.Invalid("server_id", "a server or a task is required")
	}
	g := b.db.gorm.WithContext(ctx).Table("boot_events")
	if q.ServerID != 0 {
		g = g.Where("server_id = ?", q.ServerID)
	}
	if q.TaskID != 0 {
		g = g.Where("task_id = ?", q.TaskID)
	}
	g = g.Order("id DESC")
	if q.Limit > 0 {
		g = g.Limit(q.Limit)
	}
	var rows []struct {
		ID         int64
		ServerID   int64  `gorm:"column:server_id"`
		TaskID     *int64 `gorm:"column:task_id"`
		Purpose    string
		At         time.Time
		Status     string
		Message    string
		Percent    *int
		Log        string
		RemoteAddr string `gorm:"column:remote_addr"`
	}
	if err := g.Select("id, server_id, task_id, purpose, at, status, message, percent, log, remote_addr").Scan(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]httpboot.Record, len(rows))
	for i, r := range rows {
		out[len(rows)-1-i] = httpboot.Record{ID: r.ID, ServerID: r.ServerID, TaskID: r.TaskID, Purpose: r.Purpose,
			Event: httpboot.Event{Status: httpboot.Status(r.Status), Message: r.Message, Percent: r.Percent, Log: r.Log,
				At: r.At.UTC(), RemoteAddr: r.RemoteAddr}}
	}
	return out, nil
}

// PruneTokens deletes tokens that expired before before; their events
// stay, with their server and task.
func (b *BootTokens) PruneTokens(ctx context.Context, before time.Time) (int64, error) {
	res := b.db.gorm.WithContext(ctx).Exec(`DELETE FROM boot_tokens WHERE expires_at < ?`, before.UTC())
	return res.RowsAffected, res.Error
}
