"""Speed and memory measurements (`make bench`): a table on stdout and bench/results.json."""
