def greet(name: str) -> str:
    return f'hi {name}'
