// Package sqlrows reads query results the same way for both SQL drivers Sealgate uses
// (database/sql for the embedded SQLite stores, pgx for PostgreSQL): one row interface, one
// collecting loop, one close. The mail store and the keyring both build their row scanners
// on it.
package sqlrows

// Rows is the part of a query result (*sql.Rows, pgx.Rows) the readers use.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// Row is one row of a result: *sql.Row, pgx.Row, or the current row of Rows.
type Row interface {
	Scan(dest ...any) error
}

// All reads every remaining row of rows with scan, in order. The caller closes rows.
func All[T any](rows Rows, scan func(Row) (T, error)) ([]T, error) {
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Collect reads every row of a query's result with scan and closes the result; err is the
// query's error, so that a backend passes a query's two results straight on. Both drivers'
// results close themselves when Next runs out; the close in Read is for a scan that fails
// first.
func Collect[T any](rows Rows, err error, scan func(Row) (T, error)) ([]T, error) {
	return Read(rows, err, func(rows Rows) ([]T, error) { return All(rows, scan) })
}

// Read is read over a query's result, which it then closes; err is the query's error.
func Read[R any](rows Rows, err error, read func(Rows) (R, error)) (R, error) {
	if err != nil {
		var zero R
		return zero, err
	}
	defer closeRows(rows)
	return read(rows)
}

// CollectColumn is Collect for a result of one column.
func CollectColumn[T any](rows Rows, err error) ([]T, error) {
	return Collect(rows, err, func(r Row) (T, error) {
		var v T
		err := r.Scan(&v)
		return v, err
	})
}

// closeRows closes a result of either driver: *sql.Rows returns an error from Close (a
// close after reading has nothing left to report), pgx.Rows returns nothing.
func closeRows(rows Rows) {
	switch r := rows.(type) {
	case interface{ Close() error }:
		r.Close()
	case interface{ Close() }:
		r.Close()
	}
}
