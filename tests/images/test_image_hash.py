# SPDX-License-Identifier: MIT
"""CodeSha256 is the hash of the canonical content: the same files give the same digest
as a directory, a zip, a tar or a tar.gz, in any entry order, with any timestamps, owners
or directory entries; and any change of a byte, a name, an exec bit or a link changes it."""
import tarfile

from conftest import files_of, inspect, write_dir, write_tar, write_zip


def test_same_content_same_digest_across_dir_zip_tar_targz(tmp):
    files = files_of()
    links = {"lib/current": "helper.py"}
    d = write_dir(tmp / "dir", files, links)
    z = write_zip(tmp / "a.zip", files, links=links)
    t = write_tar(tmp / "a.tar", files, links=links, dirs=["lib", "bin"])
    g = write_tar(tmp / "a.tar.gz", files, links=links, gz=True)
    digests = {p.name: inspect(p)["CodeSha256"] for p in (d, z, t, g)}
    assert len(set(digests.values())) == 1, digests
    info = inspect(z)
    assert info["Files"] == 4 and info["Links"] == 1 and info["Directories"] == 2
    assert info["UnpackedSize"] == sum(len(v if isinstance(v, bytes) else v[0]) for v in files.values())


def test_order_timestamps_owners_and_dir_entries_do_not_count(tmp):
    files = files_of()
    names = list(files)
    a = write_zip(tmp / "a.zip", files, order=names, date=(1999, 1, 1, 0, 0, 0))
    b = write_zip(tmp / "b.zip", files, order=list(reversed(names)), dirs=["lib", "bin"],
                  date=(2030, 12, 31, 23, 59, 58), compression=0)
    c = write_tar(tmp / "c.tar.gz", files, order=list(reversed(names)), gz=True, mtime=12345,
                  prefix="./", fmt=tarfile.GNU_FORMAT)
    assert inspect(a)["CodeSha256"] == inspect(b)["CodeSha256"] == inspect(c)["CodeSha256"]


def test_any_change_changes_the_digest(tmp):
    base = files_of()
    ref = inspect(write_zip(tmp / "ref.zip", base))["CodeSha256"]
    variants = {
        "byte": dict(base, **{"app.py": base["app.py"] + b"#"}),
        "exec bit": dict(base, **{"app.py": (base["app.py"], 0o755)}),
        "name": {("lib/helper2.py" if k == "lib/helper.py" else k): v for k, v in base.items()},
        "extra empty file": dict(base, **{"empty": b""}),
    }
    seen = {ref}
    for what, files in variants.items():
        digest = inspect(write_zip(tmp / f"{what}.zip", files))["CodeSha256"]
        assert digest not in seen, f"changing the {what} kept the digest"
        seen.add(digest)
    link_a = inspect(write_zip(tmp / "la.zip", base, links={"l": "app.py"}))["CodeSha256"]
    link_b = inspect(write_zip(tmp / "lb.zip", base, links={"l": "lamina.json"}))["CodeSha256"]
    assert link_a != link_b and ref not in (link_a, link_b)


def test_only_the_exec_bit_of_the_mode_counts(tmp):
    base = files_of()
    a = dict(base, **{"app.py": (base["app.py"], 0o600)})
    b = dict(base, **{"app.py": (base["app.py"], 0o664)})
    c = dict(base, **{"bin/tool": (base["bin/tool"][0], 0o700)})
    ref = inspect(write_zip(tmp / "ref.zip", base))["CodeSha256"]
    assert inspect(write_zip(tmp / "a.zip", a))["CodeSha256"] == ref
    assert inspect(write_zip(tmp / "b.zip", b))["CodeSha256"] == ref
    assert inspect(write_tar(tmp / "c.tar", c))["CodeSha256"] == ref


def test_digest_is_sha256_hex_of_the_same_bytes_as_codesha256(tmp):
    import base64
    info = inspect(write_zip(tmp / "a.zip", files_of()))
    assert info["Digest"] == "sha256:" + base64.b64decode(info["CodeSha256"]).hex()
