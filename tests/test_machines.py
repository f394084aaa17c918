"""Published hardware figures against their sources, and cache sizes read from sysfs."""

from pathlib import Path

import pytest

from helpers import machines, roofline, systolic


def test_tpu_v1_figures_are_the_papers():
    # Jouppi et al., ISCA 2017: 256 x 256 8-bit MACs at 700 MHz (92 TeraOps/s), 34 GB/s
    array = machines.TPU_V1_ARRAY
    assert (array.rows, array.cols, array.clock_hz, array.weight_bytes_per_s, array.bytes_per_weight) == \
        (256, 256, 700e6, 34e9, 1)
    assert array.cells == 65536
    assert 2 * array.macs_per_s == pytest.approx(machines.TPU_V1.peak, rel=0.005)   # 91.75 rounds to 92
    # Jouppi et al., ISCA 2017, abstract: 92 TeraOps/s peak; Table 2: 34 GB/s, 700 MHz, 256x256
    assert (machines.TPU_V1.peak, machines.TPU_V1.bandwidth) == (92e12, 34e9)
    assert machines.TPU_V1.bandwidth == array.weight_bytes_per_s
    assert (machines.HASWELL.peak, machines.HASWELL.bandwidth) == (1.3e12, 51e9)  # the paper's Table 2
    for figure in (array, machines.TPU_V1, machines.HASWELL):
        assert "ISCA 2017" in figure.source


def test_figures_are_stated_once():
    assert roofline.TPU_V1 is machines.TPU_V1 and roofline.HASWELL is machines.HASWELL
    assert roofline.Machine is machines.Machine
    tpu_names = {name for name in vars(systolic) if name.startswith("TPU")}
    assert tpu_names == {"TPU_V1_ARRAY"} and systolic.TPU_V1_ARRAY is machines.TPU_V1_ARRAY


def fake_sysfs(root, caches):
    for k, (level, kind, size) in enumerate(caches):
        index = root / "cpu0" / "cache" / f"index{k}"
        index.mkdir(parents=True)
        for name, text in (("level", f"{level}\n"), ("type", f"{kind}\n"), ("size", f"{size}\n")):
            (index / name).write_text(text)
    return root


def test_cache_bytes_from_a_sysfs_tree(tmp_path):
    root = fake_sysfs(tmp_path, [(1, "Data", "48K"), (1, "Instruction", "32K"), (2, "Unified", "1024K"),
                                 (3, "Unified", "32M")])
    assert machines.cache_bytes(1, root=root) == 48 * 1024
    assert machines.cache_bytes(2, root=root) == 2**20
    assert machines.cache_bytes(3, root=root) == 32 * 2**20
    assert machines.cache_bytes(4, root=root) is None
    assert machines.cache_bytes(2, root=tmp_path / "missing") is None


def test_cache_bytes_on_this_machine():
    index2 = Path("/sys/devices/system/cpu/cpu0/cache/index2")
    if not (index2 / "size").exists():
        pytest.skip("no sysfs cache information here")
    level, size = int((index2 / "level").read_text()), (index2 / "size").read_text().strip()
    assert size.endswith("K")
    assert machines.cache_bytes(level) == int(size[:-1]) * 1024
