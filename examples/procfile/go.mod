module example.com/procfile

go 1.26
