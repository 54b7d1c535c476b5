x = 0
v = 1
x = 0
v = 1
