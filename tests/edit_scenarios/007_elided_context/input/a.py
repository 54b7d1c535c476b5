def f(a):
    b = a + 1
    c = b * 2
    d = c - 3
    e = d / 4
    return e
