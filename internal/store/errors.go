package store

import (
	"errors"
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
	case errors.Is(err, gorm.ErrForeignKeyViolated):
		return &fault.Error{Kind: fault.KindConflict, Msg: what + " is still in use or refers to a missing object", Cause: err}
	}
	return err
}

type queryCounter struct{ n atomic.Int64 }

func (q *queryCounter) count(*gorm.DB) { q.n.Add(1) }
