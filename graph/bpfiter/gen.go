package bpfiter

//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -type record taskFile bpf/taskfile.c -- -I/usr/include -I../../internal/bpfinclude
//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target bpfel -type task_record task bpf/task.c -- -I/usr/include -I../../internal/bpfinclude
