msg = "it's done"
print(msg)
