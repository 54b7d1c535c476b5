# one
A = 1
B = 2
C = 3
# two
A = 1
B = 2
C = 3
