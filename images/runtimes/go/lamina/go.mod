module lamina.local/lamina

go 1.19
