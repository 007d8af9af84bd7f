package store

import (
	"errors"
	"strings"
	"sync/atomic"

	"gorm.io/gorm"

	"github.com/dcimd/dcimd/internal/fault"
)

// translate maps database errors onto domain errors. what names the object
// ("rack") for messages.
func translate(err error, what string, id any) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return fault.NotFound(what, id)
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return &fault.Error{Kind: fault.KindConflict, Msg: what + " with this name already exists", Cause: err}
	case errors.Is(err, gorm.ErrForeignKeyViolated), isSQLiteRestrict(err):
		return &fault.Error{Kind: fault.KindConflict, Msg: what + " is still in use or refers to a missing object", Cause: err}
	}
	return err
}

// sqliteConstraintTrigger is SQLITE_CONSTRAINT_TRIGGER: SQLite reports an
// ON DELETE RESTRICT violation with it, and the gorm dialect leaves that code
// untranslated (it only maps SQLITE_CONSTRAINT_FOREIGNKEY).
const sqliteConstraintTrigger = 1811

// isSQLiteRestrict tells a SQLite foreign key RESTRICT violation.
func isSQLiteRestrict(err error) bool {
	var coded interface{ Code() int }
	return errors.As(err, &coded) && coded.Code() == sqliteConstraintTrigger &&
		strings.Contains(err.Error(), "FOREIGN KEY constraint failed")
}

// translateRowErr gives errors of Raw(...).Scan queries the dialect's
// translation: gorm's row callback stores a failed query's error as is, so
// a constraint violation of an INSERT ... RETURNING on PostgreSQL would
// otherwise never become gorm.ErrDuplicatedKey or ErrForeignKeyViolated.
func translateRowErr(tx *gorm.DB) {
	if tx.Error == nil {
		return
	}
	if t, ok := tx.Dialector.(gorm.ErrorTranslator); ok {
		tx.Error = t.Translate(tx.Error)
	}
}

type queryCounter struct{ n atomic.Int64 }

// count skips dry runs: gorm builds a subquery (Table("(?) AS s", sub)) by
// running the query callbacks without sending anything.
func (q *queryCounter) count(db *gorm.DB) {
	if !db.DryRun {
		q.n.Add(1)
	}
}

// isSQLiteUnique recognises a unique violation from a raw database/sql
// connection (outside gorm's translator).
func isSQLiteUnique(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}
