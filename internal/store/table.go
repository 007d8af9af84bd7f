package store

import (
	"context"

	"gorm.io/gorm"

	"github.com/dcimd/dcimd/internal/fault"
	"github.com/dcimd/dcimd/internal/listq"
)

// table is a generic repository: domain type T stored as gorm row R.
type table[T any, R any] struct {
	db       *DB
	name     string
	what     string
	fields   listq.Fields
	defOrder string
	toRow    func(*DB, *T) (R, error)
	fromRow  func(*DB, *R) (T, error)
}

func (t *table[T, R]) tx(ctx context.Context) *gorm.DB {
	return t.db.gorm.WithContext(ctx).Table(t.name)
}

// Get reads one object.
func (t *table[T, R]) Get(ctx context.Context, id int64) (T, error) {
	var row R
	if err := t.tx(ctx).Where("id = ?", id).Take(&row).Error; err != nil {
		var zero T
		return zero, translate(err, t.what, id)
	}
	return t.fromRow(t.db, &row)
}

// List reads a filtered, ordered page and the total before paging.
func (t *table[T, R]) List(ctx context.Context, q listq.Query) ([]T, int, error) {
	var rows []R
	n, err := t.db.list(t.tx(ctx), "", t.fields, q, t.defOrder, &rows)
	if err != nil {
		return nil, 0, err
	}
	out := make([]T, 0, len(rows))
	for i := range rows {
		v, err := t.fromRow(t.db, &rows[i])
		if err != nil {
			return nil, 0, err
		}
		out = append(out, v)
	}
	return out, n, nil
}

// Create inserts v and fills in its id and times.
func (t *table[T, R]) Create(ctx context.Context, v *T) error {
	row, err := t.toRow(t.db, v)
	if err != nil {
		return err
	}
	if err := t.tx(ctx).Omit("id").Create(&row).Error; err != nil {
		return translate(err, t.what, nil)
	}
	nv, err := t.fromRow(t.db, &row)
	if err != nil {
		return err
	}
	*v = nv
	return nil
}

// Update writes every column of v except id and created_at.
func (t *table[T, R]) Update(ctx context.Context, v *T) error {
	row, err := t.toRow(t.db, v)
	if err != nil {
		return err
	}
	id := rowID(&row)
	res := t.tx(ctx).Where("id = ?", id).Select("*").Omit("id", "created_at").Updates(&row)
	if res.Error != nil {
		return translate(res.Error, t.what, id)
	}
	if res.RowsAffected == 0 {
		return fault.NotFound(t.what, id)
	}
	return nil
}

// Delete removes one object; one still referenced is a conflict.
func (t *table[T, R]) Delete(ctx context.Context, id int64) error {
	var row R
	res := t.tx(ctx).Where("id = ?", id).Delete(&row)
	if res.Error != nil {
		return translate(res.Error, t.what, id)
	}
	if res.RowsAffected == 0 {
		return fault.NotFound(t.what, id)
	}
	return nil
}

type ider interface{ rowID() int64 }

func rowID(r any) int64 {
	if i, ok := r.(ider); ok {
		return i.rowID()
	}
	return 0
}

// list applies a list query to base (which selects from one table or join)
// and scans the page into dest, returning the total before paging.
// sel, when set, is the column list of the page query (the count ignores it).
func (d *DB) list(base *gorm.DB, sel string, fields listq.Fields, q listq.Query, defOrder string, dest any) (int, error) {
	base, order, total, err := d.filter(base, fields, q, defOrder)
	if err != nil {
		return 0, err
	}
	page := base.Order(order)
	if sel != "" {
		page = page.Select(sel)
	}
	if q.Offset > 0 {
		page = page.Offset(q.Offset)
	}
	if q.Limit >= 0 {
		page = page.Limit(q.Limit)
	}
	if q.Limit == 0 {
		return total, nil
	}
	if err := page.Find(dest).Error; err != nil {
		return 0, err
	}
	return total, nil
}

// filter applies q's where to base and counts the matching rows; it returns
// the filtered base (to page once) and the ORDER BY of q.
func (d *DB) filter(base *gorm.DB, fields listq.Fields, q listq.Query, defOrder string) (*gorm.DB, string, int, error) {
	if q.Where != nil {
		w, args, err := listq.Compile(q.Where, fields, d.dialect)
		if err != nil {
			return nil, "", 0, listErr(err)
		}
		base = base.Where(w, args...)
	}
	order := defOrder
	if len(q.OrderBy) > 0 {
		o, err := listq.OrderSQL(q.OrderBy, fields)
		if err != nil {
			return nil, "", 0, listErr(err)
		}
		order = o + ", " + defOrder
	}
	var total int64
	if err := base.Session(&gorm.Session{}).Count(&total).Error; err != nil {
		return nil, "", 0, err
	}
	return base, order, int(total), nil
}

// listErr turns a listq error into a client error naming the problem.
func listErr(err error) error {
	if le, ok := err.(*listq.Error); ok {
		v := map[string]any{"param": le.Param}
		if le.Field != "" {
			v["field"] = le.Field
		}
		return &fault.Error{Kind: fault.KindInvalid, Msg: le.Error(), Field: le.Param, Value: v}
	}
	return err
}
