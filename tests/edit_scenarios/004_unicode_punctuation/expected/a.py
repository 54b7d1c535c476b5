msg = "it is done"
print(msg)
