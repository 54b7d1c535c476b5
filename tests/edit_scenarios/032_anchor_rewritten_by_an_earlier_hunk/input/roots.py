def nth_root(base, expt):
    pretty = str(base)
    if expt == 2:
        return "sqrt(" + pretty + ")"
    label = str(expt)
    return label + "root(" + pretty + ")"


def power(base, expt):
    return nth_root(base, expt)
