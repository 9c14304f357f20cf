package mysql

// SetAfterWindowSelect sets the hook that runs between an incremental
// snapshot window's select and its high watermark; nil removes it.
func SetAfterWindowSelect(f func(table, key string)) { afterWindowSelect = f }
