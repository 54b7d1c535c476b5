import os


def foo(a):
    x = 2
    return a + x


def bar():
    return 4
