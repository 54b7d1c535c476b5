def f():
    return None

def g():
    return None
