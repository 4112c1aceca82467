package keys

// OpenSQLite opens the embedded backend in dir, for the conformance suite (keystest).
func OpenSQLite(dir string) (Backend, error) {
	b, err := openSQLite(dir)
	if err != nil {
		return nil, err
	}
	return b, nil
}
