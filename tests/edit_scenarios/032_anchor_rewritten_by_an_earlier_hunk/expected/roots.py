def nth_root(base, root):
    pretty = str(base)
    if root == 2:
        return "sqrt(" + pretty + ")"
    label = str(root)
    return label + "root(" + pretty + ")"


def power(base, expt):
    return nth_root(base, expt)
