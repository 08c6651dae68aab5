module github.com/waleave/waleave/bench

go 1.26.8
