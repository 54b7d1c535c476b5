def a():
    pass


def target(x):
    y = x * 2
    z = y + 1
    w = z - 5
    return w


def c():
    pass
