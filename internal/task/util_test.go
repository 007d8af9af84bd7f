package task_test

import (
	"strconv"

	"github.com/dcimd/dcimd/internal/listq"
)

func listAll() listq.Query { return listq.Query{Limit: -1} }

// rebind turns ? placeholders into $n for PostgreSQL.
func rebind(db interface{ IsPostgres() bool }, q string) string {
	if !db.IsPostgres() {
		return q
	}
	var b []byte
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b = append(b, []byte("$"+strconv.Itoa(n))...)
			continue
		}
		b = append(b, q[i])
	}
	return string(b)
}
