package lines

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestWriter(t *testing.T) {
	var got []string
	w := New(func(l string) { got = append(got, l) })
	for _, p := range []string{"one\ntw", "o\r\n", "", "\nthree", " and more"} {
		if n, err := w.Write([]byte(p)); err != nil || n != len(p) {
			t.Fatalf("Write(%q) = %d, %v", p, n, err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"one", "two", "", "three and more"}; !slices.Equal(got, want) {
		t.Errorf("lines %q, want %q", got, want)
	}
	if err := w.Flush(); err != nil || len(got) != 4 {
		t.Errorf("a second Flush emitted again: %q", got)
	}
}

func TestWriterCutsLongLines(t *testing.T) {
	var got []int
	w := New(func(l string) { got = append(got, len(l)) })
	w.Write([]byte(strings.Repeat("x", 2*MaxLine+10) + "\n"))
	if want := []int{MaxLine, MaxLine, 10}; !slices.Equal(got, want) {
		t.Errorf("pieces %v, want %v", got, want)
	}
}

func TestWriterStopsOnEmitError(t *testing.T) {
	stop := errors.New("client gone")
	w := &Writer{Emit: func(string) error { return stop }}
	if _, err := w.Write([]byte("a\n")); !errors.Is(err, stop) {
		t.Errorf("Write = %v, want the emit error", err)
	}
}
