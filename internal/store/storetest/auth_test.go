package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dcimd/dcimd/internal/auth"
	"github.com/dcimd/dcimd/internal/fault"
	"github.com/dcimd/dcimd/internal/server"
	"github.com/dcimd/dcimd/internal/store"
	"github.com/dcimd/dcimd/internal/testutil/dbtest"
)

// The auth store is the whole auth.Store contract.
var _ auth.Store = (*store.Auth)(nil)

// concurrently runs fn(i) for i in [0, n) from n goroutines released
// together, and returns their errors.
func concurrently(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// TestUsers: round trip, DeleteUser releases servers and guards the last
// active admin, and ListUsers counts servers.
func TestUsers(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFx(t, db)
		ctx, a := f.ctx, f.auth
		admin := f.user("root@example.com", auth.RoleAdmin)
		u := f.user("user@example.com", auth.RoleUser)
		if u.ID == 0 {
			t.Fatal("create user did not fill the id")
		}
		got, err := a.GetUserByEmail(ctx, "user@example.com")
		if err != nil || got.ID != u.ID || got.Role != auth.RoleUser || got.State != auth.StateActive || got.CreatedAt.IsZero() {
			t.Fatalf("get by email: %+v, %v", got, err)
		}
		u.FullName, u.PhoneNumber, u.VlansPerUser, u.PasswordHash = "Jane Doe", "+100", 9, "new-hash"
		f.must(a.UpdateUser(ctx, &u), "update user")
		if got, err = a.GetUser(ctx, u.ID); err != nil || got.FullName != "Jane Doe" || got.PhoneNumber != "+100" ||
			got.VlansPerUser != 9 || got.PasswordHash != "new-hash" {
			t.Fatalf("get after update: %+v, %v", got, err)
		}
		missing := u
		missing.ID = 1 << 40
		wantKind(t, a.UpdateUser(ctx, &missing), fault.ErrNotFound, "update of a missing user")
		_, err = a.GetUser(ctx, missing.ID)
		wantKind(t, err, fault.ErrNotFound, "get of a missing user")

		s1 := f.server("u-s1", func(v *server.Server) { v.OwnerID = &u.ID })
		f.server("u-s2", func(v *server.Server) { v.OwnerID = &u.ID })
		f.server("u-s3", func(v *server.Server) { v.OwnerID = &admin.ID })

		users, n, err := a.ListUsers(ctx, where(t, "roles CP '%@admin%'"))
		if err != nil || n != 1 || len(users) != 1 || users[0].ID != admin.ID || users[0].ServerCount != 1 {
			t.Fatalf("admins: %+v, total %d, err %v", users, n, err)
		}
		users, n, err = a.ListUsers(ctx, where(t, "server_count EQ 2"))
		if err != nil || n != 1 || users[0].ID != u.ID || users[0].ServerCount != 2 || users[0].FullName != "Jane Doe" {
			t.Fatalf("users with two servers: %+v, total %d, err %v", users, n, err)
		}
		q := all
		q.OrderBy = f.order("server_count desc")
		if users, n, err = a.ListUsers(ctx, q); err != nil || n != 2 || users[0].ID != u.ID {
			t.Fatalf("users by server count: %+v, %v", users, err)
		}

		sess := auth.Session{TokenHash: "u-session", UserID: u.ID, CreatedAt: time.Now(), LastSeenAt: time.Now()}
		f.must(a.CreateSession(ctx, &sess), "create session")
		f.must(a.DeleteUser(ctx, u.ID), "delete user")
		_, err = a.GetUser(ctx, u.ID)
		wantKind(t, err, fault.ErrNotFound, "get after delete")
		if srv, err := f.inv.Servers.Get(ctx, s1.ID); err != nil || srv.OwnerID != nil {
			t.Fatalf("server of the deleted user not released: %v, %v", srv.OwnerID, err)
		}
		_, _, err = a.SessionByHash(ctx, "u-session")
		wantKind(t, err, fault.ErrNotFound, "session of a deleted user")
		wantKind(t, a.DeleteUser(ctx, u.ID), fault.ErrNotFound, "delete of a missing user")

		// A disabled admin neither counts nor is protected.
		off := f.user("off@example.com", auth.RoleAdmin)
		off.State = auth.StateDisabled
		f.must(a.UpdateUser(ctx, &off), "disable admin")
		if n, err := a.CountAdmins(ctx); n != 1 || err != nil {
			t.Fatalf("CountAdmins = %d, %v; want 1", n, err)
		}
		wantKind(t, a.DeleteUser(ctx, admin.ID), fault.ErrConflict, "delete of the last active admin")
		if _, err := a.GetUser(ctx, admin.ID); err != nil {
			t.Fatalf("last admin gone after a refused delete: %v", err)
		}
		f.must(a.DeleteUser(ctx, off.ID), "delete a disabled admin")
	})
}

// TestDeleteLastAdminsConcurrently: two admins deleted at once leave exactly
// one; the loser gets a conflict, not an internal error.
func TestDeleteLastAdminsConcurrently(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFx(t, db)
		ids := []int64{f.user("adm-0@example.com", auth.RoleAdmin).ID}
		for round := 1; round <= 5; round++ {
			ids = append(ids, f.user(fmt.Sprintf("adm-%d@example.com", round), auth.RoleAdmin).ID)
			errs := concurrently(2, func(i int) error { return f.auth.DeleteUser(f.ctx, ids[i]) })
			won, lost, survivor := 0, 0, int64(0)
			for i, err := range errs {
				switch {
				case err == nil:
					won++
					survivor = ids[1-i]
				case errors.Is(err, fault.ErrConflict):
					lost++
				default:
					t.Fatalf("round %d: delete admin %d: %v", round, ids[i], err)
				}
			}
			if won != 1 || lost != 1 {
				t.Fatalf("round %d: %d deletions succeeded and %d conflicted, want 1 and 1", round, won, lost)
			}
			if n, err := f.auth.CountAdmins(f.ctx); n != 1 || err != nil {
				t.Fatalf("round %d: %d admins left (%v), want 1", round, n, err)
			}
			ids = []int64{survivor}
		}
	})
}

// TestSessionsKeysSettings covers the session, key and setting stores.
func TestSessionsKeysSettings(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFx(t, db)
		ctx, a := f.ctx, f.auth
		u := f.user("sess@example.com", auth.RoleUser)
		// A zone west of UTC: times are instants, whatever zone the caller uses.
		zone := time.FixedZone("UTC-5", -5*3600)
		now := time.Now().In(zone).Truncate(time.Second)

		s1 := auth.Session{TokenHash: "hash-1", UserID: u.ID, RemoteAddr: "192.0.2.1", CreatedAt: now, LastSeenAt: now}
		f.must(a.CreateSession(ctx, &s1), "create session")
		if s1.ID == 0 {
			t.Fatal("create session did not fill the id")
		}
		got, gu, err := a.SessionByHash(ctx, "hash-1")
		if err != nil || got.ID != s1.ID || got.UserID != u.ID || got.RemoteAddr != "192.0.2.1" ||
			!got.LastSeenAt.Equal(now) || !got.CreatedAt.Equal(now) || gu.ID != u.ID || gu.Email != u.Email {
			t.Fatalf("session by hash: %+v %+v %v", got, gu, err)
		}
		_, _, err = a.SessionByHash(ctx, "no-such-hash")
		wantKind(t, err, fault.ErrNotFound, "unknown session")

		old := now.Add(-3 * time.Hour)
		s2 := auth.Session{TokenHash: "hash-2", UserID: u.ID, CreatedAt: old, LastSeenAt: old}
		f.must(a.CreateSession(ctx, &s2), "create old session")
		s3 := auth.Session{TokenHash: "hash-3", UserID: u.ID, CreatedAt: old, LastSeenAt: old}
		f.must(a.CreateSession(ctx, &s3), "create session to touch")
		f.must(a.TouchSession(ctx, s3.ID, now), "touch")
		if got, _, err := a.SessionByHash(ctx, "hash-3"); err != nil || !got.LastSeenAt.Equal(now) {
			t.Fatalf("touched session: %v, %v", got.LastSeenAt, err)
		}
		pruned, err := a.DeleteSessionsIdleSince(ctx, now.Add(-time.Hour))
		if err != nil || pruned != 1 {
			t.Fatalf("DeleteSessionsIdleSince pruned %d (%v), want only the idle one", pruned, err)
		}
		for hash, alive := range map[string]bool{"hash-1": true, "hash-2": false, "hash-3": true} {
			if _, _, err := a.SessionByHash(ctx, hash); (err == nil) != alive {
				t.Errorf("session %s: alive=%v, err %v", hash, alive, err)
			}
		}
		f.must(a.DeleteUserSessions(ctx, u.ID, s1.ID), "delete other sessions")
		if _, _, err := a.SessionByHash(ctx, "hash-3"); !errors.Is(err, fault.ErrNotFound) {
			t.Fatalf("other session survived DeleteUserSessions: %v", err)
		}
		f.must(a.DeleteSession(ctx, "hash-1"), "delete session")
		_, _, err = a.SessionByHash(ctx, "hash-1")
		wantKind(t, err, fault.ErrNotFound, "deleted session")
		f.must(a.DeleteSession(ctx, "hash-1"), "delete a deleted session")

		k := auth.Key{KeyHash: "key-1", UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		f.must(a.CreateKey(ctx, &k), "create key")
		got1, err := a.TakeKey(ctx, "key-1")
		if err != nil || got1.ID != k.ID || got1.UserID != u.ID || !got1.ExpiresAt.Equal(k.ExpiresAt) {
			t.Fatalf("take key: %+v, %v", got1, err)
		}
		_, err = a.TakeKey(ctx, "key-1")
		wantKind(t, err, fault.ErrNotFound, "key taken twice")

		k2 := auth.Key{KeyHash: "key-2", UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		f.must(a.CreateKey(ctx, &k2), "create contested key")
		var ok int
		for i, err := range concurrently(10, func(int) error { _, err := a.TakeKey(ctx, "key-2"); return err }) {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, fault.ErrNotFound):
				t.Fatalf("concurrent TakeKey %d: %v", i, err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d concurrent TakeKey calls succeeded, want exactly 1", ok)
		}

		if v, found, err := a.GetSetting(ctx, "motd"); found || v != "" || err != nil {
			t.Fatalf("missing setting: %q %v %v", v, found, err)
		}
		for _, want := range []string{"hello", "hello again"} {
			f.must(a.SetSetting(ctx, "motd", want), "set setting")
			if v, found, err := a.GetSetting(ctx, "motd"); !found || v != want || err != nil {
				t.Fatalf("setting: %q %v %v, want %q", v, found, err, want)
			}
		}
	})
}
