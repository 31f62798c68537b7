"""Downloads like Keras's, against a local HTTP server on 127.0.0.1 serving small files made here.

Good file, wrong checksum, a connection cut halfway, an HTTP error, a zip that holds the file, and
no server at all (offline): only a checked file ever appears under its final name. No test here may
reach any other address: `socket.create_connection` refuses everything but 127.0.0.1.
"""

import dataclasses
import hashlib
import http.server
import io
import json
import os
import socket
import stat
import tarfile
import threading
import zipfile

import pytest

from rnnsim.datasets import imdb, registry
from rnnsim.datasets.download import Unreachable, fetch
from rnnsim.errors import InputError

CSV = b"No,year,TEMP\r\n" + b"".join(b"%d,2010,%d\r\n" % (i, i % 30) for i in range(2000))  # ~25 kB


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict = {}  # path -> bytes, or ("cut", bytes): send the length of all, then only half and close
    requests: list = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.requests.append(self.path)
        body = self.routes.get(self.path)
        if body is None:
            self.send_error(404, "Not Found")
            return
        cut = isinstance(body, tuple)
        data = body[1] if cut else body
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2] if cut else data)
        if cut:
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)  # the connection drops halfway

    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture
def server():
    """A server on 127.0.0.1 (a free port) in a thread; yields (base address, routes, requests)."""
    routes, requests = {}, []
    handler = type("Handler", (_Handler,), {"routes": routes, "requests": requests})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", routes, requests
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


@pytest.fixture(autouse=True)
def only_localhost(monkeypatch):
    """Every connection these tests make goes to 127.0.0.1, or the test fails."""
    real = socket.create_connection

    def guarded(address, *args, **kwargs):
        assert address[0] == "127.0.0.1", f"a test tried to reach {address}"
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_good_download_is_checked_and_renamed_into_place_with_nothing_else_left(server, tmp_path, capsys):
    base, routes, _ = server
    routes["/weather.csv"] = CSV
    target = tmp_path / "cache" / "datasets" / "beijing_pm25" / "weather.csv"
    assert fetch(f"{base}/weather.csv", target, sha(CSV)) == target
    assert target.read_bytes() == CSV
    assert os.listdir(target.parent) == ["weather.csv"]  # no temporary file left
    assert stat.S_IMODE(target.stat().st_mode) & 0o044  # readable by others, not mkstemp's 0600
    shown = capsys.readouterr().err
    assert "weather.csv" in shown and "kB" in shown  # the progress bar: name and bytes


def test_a_wrong_checksum_leaves_nothing_behind(server, tmp_path):
    base, routes, _ = server
    routes["/weather.csv"] = CSV
    target = tmp_path / "weather.csv"
    with pytest.raises(InputError, match=r"has SHA-256 [0-9a-f]{16}\.\.\., not the registry's 0000000000000000"):
        fetch(f"{base}/weather.csv", target, "0" * 64, progress=False)
    assert os.listdir(tmp_path) == []


def test_a_connection_cut_halfway_leaves_nothing_behind(server, tmp_path):
    base, routes, _ = server
    routes["/weather.csv"] = ("cut", CSV)
    target = tmp_path / "weather.csv"
    with pytest.raises(InputError, match=rf"cut off after [\d,]+ of {len(CSV):,} bytes.*nothing was saved"):
        fetch(f"{base}/weather.csv", target, sha(CSV), progress=False)
    assert os.listdir(tmp_path) == []


def test_an_old_good_file_survives_a_failed_download(server, tmp_path):
    base, routes, _ = server
    routes["/weather.csv"] = ("cut", CSV)
    target = tmp_path / "weather.csv"
    target.write_bytes(b"the last good copy")
    with pytest.raises(InputError, match="cut off"):
        fetch(f"{base}/weather.csv", target, sha(CSV), progress=False)
    assert target.read_bytes() == b"the last good copy" and os.listdir(tmp_path) == ["weather.csv"]


def test_an_http_error_is_an_input_error_and_no_server_is_unreachable(server, tmp_path):
    base, _, _ = server
    with pytest.raises(InputError, match="HTTP 404"):
        fetch(f"{base}/nothing-here.csv", tmp_path / "x.csv", sha(CSV), progress=False)
    with pytest.raises(Unreachable):
        fetch(f"http://127.0.0.1:{closed_port()}/weather.csv", tmp_path / "new" / "x.csv", sha(CSV), progress=False)
    assert os.listdir(tmp_path) == []  # offline: not even the folder is created


def test_a_zipped_file_is_extracted_checked_and_the_zip_deleted(server, tmp_path):
    base, routes, _ = server
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("__MACOSX/folder/._weather.csv", b"resource fork")
        archive.writestr("some folder/weather.csv", CSV)
    routes["/weather.zip"] = package.getvalue()
    target = tmp_path / "weather.csv"
    fetch(f"{base}/weather.zip", target, sha(CSV), member="weather.csv", progress=False)
    assert target.read_bytes() == CSV and os.listdir(tmp_path) == ["weather.csv"]
    with pytest.raises(InputError, match="holds no other.csv"):
        fetch(f"{base}/weather.zip", tmp_path / "other.csv", sha(CSV), member="other.csv", progress=False)
    routes["/broken.zip"] = b"PK not really a zip"
    with pytest.raises(InputError, match="not a readable zip"):
        fetch(f"{base}/broken.zip", tmp_path / "b.csv", sha(CSV), member="b.csv", progress=False)
    assert os.listdir(tmp_path) == ["weather.csv"]


# ------------------------------------------------------------------ through the registry and the loaders

WORD_INDEX = {"the": 1, "movie": 2, "good": 3, "bad": 4}
REVIEWS = {("train", "pos"): "the movie was good", ("train", "neg"): "bad movie",
           ("test", "pos"): "good", ("test", "neg"): "bad bad"}


def tiny_archive() -> bytes:
    stream = io.BytesIO()
    with tarfile.open(fileobj=stream, mode="w:gz") as tar:
        for (split, label), text in REVIEWS.items():
            data = text.encode()
            member = tarfile.TarInfo(f"aclImdb/{split}/{label}/0_{8 if label == 'pos' else 2}.txt")
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    return stream.getvalue()


@pytest.fixture
def local_imdb(server, monkeypatch, tmp_path):
    """The registry's IMDB entry pointed at the local server, downloads on, the cache in tmp_path."""
    base, routes, requests = server
    archive, word_index = tiny_archive(), json.dumps(WORD_INDEX).encode()
    routes["/aclImdb_v1.tar.gz"], routes["/imdb_word_index.json"] = archive, word_index
    info = registry.DATASETS["imdb"]
    archives = tuple(dataclasses.replace(c, url=f"{base}/aclImdb_v1.tar.gz",
                                         sha256=sha(archive) if c.fetchable else c.sha256) for c in info.files[0])
    index = (dataclasses.replace(info.files[1][0], url=f"{base}/imdb_word_index.json", sha256=sha(word_index)),)
    monkeypatch.setitem(registry.DATASETS, "imdb", dataclasses.replace(info, files=(archives, index)))
    monkeypatch.delenv("RNNSIM_OFFLINE")
    monkeypatch.setenv("RNNSIM_CACHE", str(tmp_path / "cache"))
    empty = tmp_path / "empty"
    empty.mkdir()
    return empty, routes, requests


def test_imdb_load_data_downloads_the_missing_files_like_keras_and_then_reads_the_cache(local_imdb, tmp_path):
    empty, _, requests = local_imdb
    (x_train, y_train), (x_test, _) = imdb.load_data(path=empty)
    assert sorted(requests) == ["/aclImdb_v1.tar.gz", "/imdb_word_index.json"]
    assert len(x_train) == 2 and len(x_test) == 2 and sorted(y_train.tolist()) == [0, 1]
    downloads = tmp_path / "cache" / "datasets" / "imdb"
    assert sorted(os.listdir(downloads)) == ["aclImdb_v1.tar.gz", "imdb_word_index.json"]
    imdb.load_data(path=empty)
    assert imdb.get_word_index(empty) == WORD_INDEX
    assert len(requests) == 2  # found in the download folder: not fetched again


def test_a_corrupted_download_through_the_loader_leaves_nothing_that_looks_complete(local_imdb, tmp_path):
    empty, routes, _ = local_imdb
    routes["/imdb_word_index.json"] = b'{"the": 1, "movie": 2, "good": 3, "bAd": 4}'  # not what the registry says
    with pytest.raises(InputError, match="SHA-256"):
        imdb.get_word_index(empty)
    folder = tmp_path / "cache" / "datasets" / "imdb"
    assert os.listdir(folder) == []


def test_offline_the_loader_gives_the_same_message_as_before_downloads(local_imdb, monkeypatch):
    empty, _, _ = local_imdb
    info = registry.DATASETS["imdb"]
    unreachable = (dataclasses.replace(info.files[1][0], url=f"http://127.0.0.1:{closed_port()}/imdb_word_index.json"),)
    monkeypatch.setitem(registry.DATASETS, "imdb", dataclasses.replace(info, files=(info.files[0], unreachable)))
    with pytest.raises(InputError) as offline:
        imdb.get_word_index(empty)
    with pytest.raises(InputError) as never_tried:
        registry.find_file("imdb", unreachable, empty, download=False)
    assert str(offline.value) == str(never_tried.value)
    assert str(offline.value).startswith(f"imdb/imdb_word_index.json not found in {empty}; download it from http://")


def test_rnnsim_offline_stops_downloads(local_imdb, monkeypatch):
    empty, _, requests = local_imdb
    monkeypatch.setenv("RNNSIM_OFFLINE", "1")
    with pytest.raises(InputError, match="not found in"):
        imdb.get_word_index(empty)
    assert requests == []


def test_download_command_fetches_what_is_missing_and_explains_what_it_cannot(local_imdb, tmp_path, monkeypatch):
    empty, _, requests = local_imdb
    places = registry.download("imdb", path=empty, progress=False)
    assert [place.name for place in places] == ["aclImdb_v1.tar.gz", "imdb_word_index.json"]
    assert registry.download("imdb", path=empty, progress=False) == places and len(requests) == 2
    with pytest.raises(InputError, match=r"cannot download jena/jena_climate_2009_2016\.csv\.zip itself.*"
                                         r"s3\.amazonaws\.com"):
        registry.download("jena", path=empty)
    with pytest.raises(InputError, match="generated in code"):
        registry.download("adding")
    info = registry.DATASETS["seattle_weather"]
    nowhere = (dataclasses.replace(info.files[0][0], url=f"http://127.0.0.1:{closed_port()}/seattle-weather.csv"),)
    monkeypatch.setitem(registry.DATASETS, "seattle_weather", dataclasses.replace(info, files=(nowhere,)))
    with pytest.raises(InputError, match=r"cannot reach 127\.0\.0\.1:\d+ \(.*\): offline\? Download http://127\.0\.0\.1:\d+/"
                                         r"seattle-weather\.csv by hand into .*vega_seattle_weather"):
        registry.download("seattle_weather", path=empty)


def test_the_registry_can_fetch_exactly_the_files_with_a_direct_address_and_a_checksum():
    fetchable = sorted(c.relative_path for info in registry.DATASETS.values() for group in info.files for c in group
                       if c.fetchable)
    assert fetchable == [
        "beijing_pm25/PRSA_data_2010.1.1-2014.12.31.csv", "imdb/aclImdb_v1.tar.gz", "imdb/imdb_word_index.json",
        "sentiment_labelled_sentences/amazon_cells_labelled.txt", "sentiment_labelled_sentences/imdb_labelled.txt",
        "sentiment_labelled_sentences/yelp_labelled.txt", "vega_seattle_weather/seattle-weather.csv"]
    official = registry.get_info("imdb").files[0][1]
    assert official.size == 84_125_825
    assert official.sha256 == "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
