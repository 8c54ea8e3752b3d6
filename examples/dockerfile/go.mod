module example.com/dockerfile

go 1.26
