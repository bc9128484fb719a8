CONNECTED: list[int] = []


def connect() -> None:
    CONNECTED.append(1)
