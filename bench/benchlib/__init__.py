"""The benchmark's modules: bench/run measures, bench/report renders.

util      processes, waiting, cleanup, /proc readings
servers   the FUSE servers and the private libvirtd the runner starts
measure   what the runner measures on each shape
backup    the backup shape (issue 9): cp of backup files, the NBD floor, virtnbdbackup
results   the results.json format: one record per measurement
table     the table (results.txt) computed from the records
plot      the scaling plot (results.png), drawn by gnuplot
upgrade   the one-time conversion of the old runner's results.json
"""
