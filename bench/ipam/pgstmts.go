package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// stmtCount is what PostgreSQL ran for a few calls, per call: every
// statement any connection sent (dcimd's pool, River's, the task worker's),
// from the server log with log_statement = all.
type stmtCount struct {
	perCall float64
	kinds   []kindCount // per call, most first
}

type kindCount struct {
	kind string // BEGIN, COMMIT, or a verb and the first table named
	n    float64
}

func (s stmtCount) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%.1f:", s.perCall)
	for _, k := range s.kinds {
		fmt.Fprintf(&b, " %s %.3g,", k.kind, k.n)
	}
	return strings.TrimSuffix(b.String(), ",")
}

var (
	logEntry  = regexp.MustCompile(`^\d{4}-\d\d-\d\d `)
	logStmt   = regexp.MustCompile(`LOG:  (?:statement|execute [^:]*): (.*)$`)
	stmtTable = regexp.MustCompile(`(?i)\b(?:FROM|INTO|UPDATE)\s+"?([a-z_][\w.]*)`)
	sqlcName  = regexp.MustCompile(`^-- name: (\w+)`)
	ourPoll   = "COALESCE(SUM(CASE WHEN status = 'complete'" // rig.tasksDone, not dcimd's
)

// countStatements turns statement logging on in our throwaway cluster,
// makes n calls (and waits for their tasks when tasks is set), turns it
// off and counts what the log shows, per call. River's own periodic
// queries (fetch polls, leadership) during the window are counted too.
func (rg *rig) countStatements(ctx context.Context, n int, tasks bool, call func(ctx context.Context) error) (stmtCount, error) {
	var dataDir string
	if err := rg.db.SQL().QueryRowContext(ctx, "SELECT current_setting('data_directory')").Scan(&dataDir); err != nil {
		return stmtCount{}, err
	}
	logPath := filepath.Join(filepath.Dir(dataDir), "postgres.log") // internal/testutil/pgtest's layout
	set := func(on bool) error {
		q := "ALTER SYSTEM RESET log_statement"
		if on {
			q = "ALTER SYSTEM SET log_statement = 'all'"
		}
		if _, err := rg.db.SQL().ExecContext(ctx, q); err != nil {
			return err
		}
		_, err := rg.db.SQL().ExecContext(ctx, "SELECT pg_reload_conf()")
		time.Sleep(200 * time.Millisecond) // every backend reloads at its next command
		return err
	}
	if err := set(true); err != nil {
		return stmtCount{}, err
	}
	start, err := fileSize(logPath)
	if err != nil {
		return stmtCount{}, err
	}
	var callErr error
	for range n {
		if callErr = call(ctx); callErr != nil {
			break
		}
	}
	if callErr == nil && tasks {
		_, callErr = rg.waitTasks(ctx, time.Minute)
	}
	end, err := fileSize(logPath)
	if err := set(false); err != nil {
		return stmtCount{}, err
	}
	if callErr != nil {
		return stmtCount{}, callErr
	}
	if err != nil {
		return stmtCount{}, err
	}
	stmts, err := readStatements(logPath, start, end)
	if err != nil {
		return stmtCount{}, err
	}
	by := map[string]int{}
	total := 0
	for _, s := range stmts {
		if strings.Contains(s, ourPoll) {
			continue
		}
		by[classify(s)]++
		total++
	}
	out := stmtCount{perCall: float64(total) / float64(n)}
	for k, v := range by {
		out.kinds = append(out.kinds, kindCount{k, float64(v) / float64(n)})
	}
	slices.SortFunc(out.kinds, func(a, b kindCount) int {
		if a.n != b.n {
			return int(b.n*1000 - a.n*1000)
		}
		return strings.Compare(a.kind, b.kind)
	})
	return out, nil
}

func fileSize(path string) (int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// readStatements returns the logged statements between two offsets (a
// statement's continuation lines joined to it).
func readStatements(path string, from, to int64) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.NewSectionReader(f, from, to-from))
	if err != nil {
		return nil, err
	}
	var out []string
	inStmt := false
	for _, line := range strings.Split(string(b), "\n") {
		if logEntry.MatchString(line) {
			m := logStmt.FindStringSubmatch(line)
			inStmt = m != nil
			if inStmt {
				out = append(out, m[1])
			}
			continue
		}
		if inStmt && len(out) > 0 {
			out[len(out)-1] += " " + strings.TrimSpace(line)
		}
	}
	return out, nil
}

// classify names a statement by its verb and first table.
func classify(s string) string {
	s = strings.TrimSpace(s)
	if m := sqlcName.FindStringSubmatch(s); m != nil { // River's queries (sqlc)
		return "river " + m[1]
	}
	verb, _, _ := strings.Cut(s, " ")
	verb = strings.ToUpper(strings.TrimRight(verb, ";"))
	switch verb {
	case "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE":
		return verb
	}
	if m := stmtTable.FindStringSubmatch(s); m != nil {
		return verb + " " + strings.ToLower(m[1])
	}
	return verb
}
