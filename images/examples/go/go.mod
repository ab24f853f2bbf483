module example

go 1.19

require lamina.local/lamina v0.0.0

// The package lamina ships (images/runtimes/go/lamina; installed under
// $(PREFIX)/share/lamina/runtimes/go/lamina): point this at your copy.
replace lamina.local/lamina => ../../runtimes/go/lamina
