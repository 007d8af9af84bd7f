package task_test

import "github.com/dcimd/dcimd/internal/listq"

func listAll() listq.Query { return listq.Query{Limit: -1} }
