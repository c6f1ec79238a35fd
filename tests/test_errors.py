from bench.errors import first_line


def test_an_engine_error_is_trimmed_to_its_cause() -> None:
    pull = 'Get "https://registry.example/v2/": dial tcp: lookup registry.example on 10.0.0.1:53: no such host'
    assert first_line(pull) == "no such host"
    api = '500 Server Error for http+docker://localhost/x: Internal Server Error ("rootfs is read-only")'
    assert first_line(api) == "rootfs is read-only"


def test_a_plain_error_keeps_its_first_line() -> None:
    assert first_line("build failed: ERROR: no thop==99.0\nmore") == "build failed: ERROR: no thop==99.0"
    assert first_line(ValueError()) == "ValueError"
