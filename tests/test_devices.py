"""Devices: name parsing, GPU discovery (with fake NVML/CuPy/torch), device info."""

from __future__ import annotations

import copy
import os
import pickle
import subprocess
import sys
import types
from contextlib import contextmanager
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, strategies as st

from langone.errors import DeviceNotFound
from langone.tensor.devices import host as C
from langone.tensor.devices import discovery as G
from langone.tensor.devices import names as N
from langone.tensor.devices import (CPUDeviceInfo, Device, GPUDeviceInfo, cpu, cpu_info,
                                    device, devices)

GiB = 1024 ** 3
NO_GPU = r"no CUDA device found \(checked NVML, CuPy, torch\)"


@pytest.fixture(autouse=True)
def fresh_discovery(monkeypatch):
    """Each test discovers from scratch; the real cache is restored afterwards."""
    monkeypatch.setattr(G, "_DISCOVERY", None)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


# --- parsing -----------------------------------------------------------------

@pytest.mark.parametrize("name, canonical", [
    ("cpu", "cpu"), ("CPU", "cpu"), (" cpu ", "cpu"), ("cpu:0", "cpu"),
    ("cuda", "cuda:0"), ("cuda:0", "cuda:0"), ("Cuda:3", "cuda:3"), ("cuda:12", "cuda:12"),
])
def test_valid_names_parse_to_canonical_form(name, canonical):
    dev = Device(name)
    assert str(dev) == canonical
    assert repr(dev) == f"Device('{canonical}')"
    assert (dev.type, dev.index) == (canonical[:4].rstrip(":"), int(canonical[5:] or 0))


@pytest.mark.parametrize("name", ["gpu", "", "cuda:", "cuda:-1", "cuda:x", "cuda:1:2",
                                  "cuda:\u0663", "tpu:0", "cuda 0"])
def test_invalid_names_list_the_accepted_forms(name):
    with pytest.raises(DeviceNotFound, match=r"unknown device .*use 'cpu', 'cuda' \(the same "
                                             r"as 'cuda:0'\), 'cuda:N'"):
        Device(name)


def test_cpu_with_an_index_says_there_is_one_cpu_device():
    with pytest.raises(DeviceNotFound, match="single CPU device, 'cpu'"):
        Device("cpu:1")


def test_equality_with_devices_and_strings():
    assert Device("cuda") == Device("cuda:0") == "cuda:0" and Device("cuda:0") == "cuda"
    assert "cpu" == Device("cpu") and Device("CPU") == "cpu"
    assert Device("cuda:1") != "cuda:0"
    assert Device("cpu") != Device("cuda:0")
    assert Device("cpu") != "not a device"        # unparseable: unequal, no exception
    assert Device("cpu") != 0 and Device("cpu") != None  # noqa: E711


def test_hash_matches_the_canonical_name_so_strings_find_devices():
    table = {Device("cpu"): "host", Device("cuda:1"): "gpu1"}
    assert table["cpu"] == "host" and table["cuda:1"] == "gpu1"
    assert len({Device("cuda"), Device("cuda:0"), Device("CUDA:0"), Device("cpu")}) == 2


def test_devices_are_immutable_and_survive_pickle_and_copy():
    dev = Device("cuda:2")
    with pytest.raises(AttributeError, match="immutable: cannot set 'index'"):
        dev.index = 3
    assert pickle.loads(pickle.dumps(dev)) == dev
    assert copy.deepcopy(dev) == dev and copy.copy(dev) == dev
    assert not hasattr(dev, "__dict__")


def test_device_function_fast_paths_return_shared_instances():
    assert device() is cpu and device(None) is cpu and device("cpu") is cpu
    assert device(cpu) is cpu
    assert device("cuda:0") is device("cuda:0") is device("cuda")
    assert Device(Device("cuda:4")) == "cuda:4"


def test_device_name_cache_is_bounded():
    for i in range(2 * N._MAX_NAMES):
        assert device(f"cuda:{i}").index == i
    assert len(N._BY_NAME) <= N._MAX_NAMES


def test_objects_carrying_a_device():
    assert device(np.zeros(3)) is cpu                      # numpy 2 arrays: .device == "cpu"
    assert device(SimpleNamespace(device="cuda:1")) == "cuda:1"
    assert device(SimpleNamespace(device=Device("cuda:2"))) == "cuda:2"
    assert Device(SimpleNamespace(device="cpu")) == "cpu"


def test_torch_and_cupy_style_devices():
    assert device(SimpleNamespace(type="cuda", index=None)) == "cuda:0"     # torch.device
    assert device(SimpleNamespace(type="cuda", index=3)) == "cuda:3"
    assert device(SimpleNamespace(type="cpu", index=None)) is cpu
    tensor = SimpleNamespace(device=SimpleNamespace(type="cuda", index=1))
    assert device(tensor) == "cuda:1"
    cupy_device = type("Device", (), {"__module__": "cupy.cuda.device", "id": 2})()
    assert device(cupy_device) == "cuda:2"
    with pytest.raises(DeviceNotFound, match="device type 'mps' .* is not supported"):
        device(SimpleNamespace(type="mps", index=None))


@pytest.mark.parametrize("obj", [3, 1.5, object(), b"cpu", ["cpu"]])
def test_uninterpretable_objects_raise_with_accepted_forms(obj):
    with pytest.raises(DeviceNotFound, match=r"cannot use .* as a device: use 'cpu'"):
        device(obj)


@given(st.integers(min_value=0, max_value=10 ** 9))
def test_cuda_names_round_trip(n):
    dev = Device(f"cuda:{n}")
    assert dev.index == n and Device(str(dev)) == dev
    assert hash(Device(str(dev))) == hash(dev) == hash(f"cuda:{n}")


@given(st.text(max_size=12))
def test_any_text_parses_or_raises_device_not_found(text):
    try:
        dev = Device(text)
    except DeviceNotFound:
        return
    assert Device(str(dev)) == dev and dev.type in ("cpu", "cuda")


# --- fake driver libraries -----------------------------------------------------

class FakeNVMLError(Exception):
    pass


class NVMLError_LibraryNotFound(FakeNVMLError):           # named like pynvml's
    pass


def fake_nvml(gpus, *, init_error=None):
    """A pynvml stand-in; ``gpus`` is a list of dicts describing each GPU."""
    nv = types.ModuleType("pynvml")
    nv.NVML_CLOCK_SM, nv.NVML_CLOCK_MEM = 1, 2
    nv.calls = {"init": 0}

    def init():
        nv.calls["init"] += 1
        if init_error:
            raise init_error

    def optional(key, value_key=None):
        def query(handle, *args):
            value = gpus[handle][key] if value_key is None else gpus[handle][key][value_key]
            if value is None:
                raise FakeNVMLError("Not Supported")
            return value
        return query

    nv.nvmlInit = init
    nv.nvmlDeviceGetCount = lambda: len(gpus)
    nv.nvmlDeviceGetHandleByIndex = lambda i: i
    nv.nvmlDeviceGetName = lambda h: gpus[h]["name"]
    nv.nvmlDeviceGetUUID = lambda h: gpus[h]["uuid"]
    nv.nvmlDeviceGetMemoryInfo = lambda h: SimpleNamespace(
        total=gpus[h]["total"], free=gpus[h]["free"], used=gpus[h]["total"] - gpus[h]["free"])
    nv.nvmlDeviceGetCudaComputeCapability = lambda h: gpus[h]["cc"]
    nv.nvmlDeviceGetMaxClockInfo = lambda h, kind: optional("clocks", kind)(h)
    if all("cores" in g for g in gpus):
        nv.nvmlDeviceGetNumGpuCores = optional("cores")
        nv.nvmlDeviceGetMemoryBusWidth = optional("bus")
    return nv


def h100(**changes):
    gpu = {"name": "NVIDIA H100 80GB HBM3", "uuid": "GPU-aaaa1111", "total": 80 * GiB,
           "free": 79 * GiB, "cc": (9, 0), "clocks": {1: 1980, 2: 2619},
           "cores": 132 * 128, "bus": 5120}
    gpu.update(changes)
    return gpu


def a100_props(**changes):
    props = {"name": b"NVIDIA A100-SXM4-40GB", "totalGlobalMem": 40 * GiB, "major": 8,
             "minor": 0, "multiProcessorCount": 108, "clockRate": 1_410_000,
             "memoryClockRate": 1_215_000, "memoryBusWidth": 5120, "maxThreadsPerBlock": 1024}
    props.update(changes)
    return props


def fake_cupy(props_list, *, count_error=None, free=30 * GiB):
    current = {"device": 0}

    @contextmanager
    def on_device(i):
        current["device"] = i
        yield

    def count():
        if count_error:
            raise count_error
        return len(props_list)

    runtime = SimpleNamespace(getDeviceCount=count,
                              getDeviceProperties=lambda i: props_list[i],
                              memGetInfo=lambda: (free + current["device"], 40 * GiB))
    module = types.ModuleType("cupy")
    module.cuda = SimpleNamespace(runtime=runtime, Device=on_device)
    return module


def fake_torch(props_list, *, hip=None, available=True):
    module = types.ModuleType("torch")
    module.version = SimpleNamespace(hip=hip, cuda="12.4")
    module.cuda = SimpleNamespace(
        is_available=lambda: available, device_count=lambda: len(props_list),
        get_device_properties=lambda i: props_list[i],
        mem_get_info=lambda i: (20 * GiB, props_list[i].total_memory))
    return module


@pytest.fixture
def libs(monkeypatch):
    """Install fake (or absent: None) driver libraries; the CUDA driver 'loads'."""
    monkeypatch.setattr(G, "_cuda_driver_loadable", lambda: True)

    def install(pynvml=None, cupy=None, torch=None):
        for name, module in (("pynvml", pynvml), ("cupy", cupy), ("torch", torch)):
            monkeypatch.setitem(sys.modules, name, module)   # None makes import fail
    return install


# --- discovery -----------------------------------------------------------------

def test_no_library_installed_means_no_gpu(libs):
    libs()
    assert devices() == [cpu]
    assert G._discover().notes == ("NVML: not installed", "CuPy: not installed",
                                   "torch: not installed")
    assert cpu.is_available() and not Device("cuda").is_available()
    for call in (lambda: Device("cuda:3").info(), Device("cuda:3").require_available):
        with pytest.raises(DeviceNotFound, match=rf"cuda:3 is not available: {NO_GPU}: "
                                                 r"NVML: not installed; .* on 'cpu'"):
            call()
    assert cpu.require_available() is cpu


def test_nvml_library_missing_and_no_cuda_driver_skips_cupy_and_torch(libs, monkeypatch):
    cupy = fake_cupy([a100_props()])
    libs(pynvml=fake_nvml([], init_error=NVMLError_LibraryNotFound("NVML Shared Library "
                                                                   "Not Found")), cupy=cupy)
    monkeypatch.setattr(G, "_cuda_driver_loadable", lambda: False)
    assert devices() == [cpu]                     # the fake CuPy would have found an A100
    with pytest.raises(DeviceNotFound, match=rf"{NO_GPU}: NVML: NVMLError_LibraryNotFound: "
                                             r"NVML Shared Library Not Found; CuPy, torch: "
                                             r"not asked, the CUDA driver library"):
        Device("cuda").require_available()


def test_nvml_finds_gpus_and_info_is_derived_from_clocks_and_bus(libs):
    nv = fake_nvml([h100(), h100(name=b"NVIDIA H100 PCIe", uuid="GPU-bbbb2222")])
    libs(pynvml=nv)
    assert devices() == [cpu, "cuda:0", "cuda:1"]
    info = Device("cuda").info()
    assert isinstance(info, GPUDeviceInfo)
    assert (info.device, info.name, info.source) == ("cuda:0", "NVIDIA H100 80GB HBM3", "NVML")
    assert info.total_memory == 80 * GiB and info.available_memory == 79 * GiB
    assert info.compute_capability == (9, 0) and info.multiprocessor_count == 132
    assert info.memory_bandwidth == pytest.approx(5120 / 8 * 2619e6 * 2)      # 3.35 TB/s
    assert info.compute_throughput == pytest.approx(132 * 128 * 1.98e9 * 2)   # 66.9 TFLOP/s
    assert info.supports_fp16 and info.supports_bf16 and info.supports_fp64
    assert info.max_threads_per_block == 1024 and info.sm_clock == 1.98e9
    assert Device("cuda:1").info().name == "NVIDIA H100 PCIe"                 # bytes decoded
    with pytest.raises(DeviceNotFound, match=r"cuda:2 is not available: this machine has "
                                             r"2 CUDA device\(s\): cuda:0, cuda:1"):
        Device("cuda:2").info()


def test_available_memory_is_read_live_and_discovery_is_cached(libs):
    gpu = h100()
    nv = fake_nvml([gpu])
    libs(pynvml=nv)
    assert Device("cuda").info().available_memory == 79 * GiB
    gpu["free"] = 10 * GiB
    assert Device("cuda").info().available_memory == 10 * GiB
    devices(), Device("cuda").is_available()
    assert nv.calls["init"] == 1
    devices(refresh=True)
    assert nv.calls["init"] == 2


def test_old_gpu_without_optional_nvml_queries_uses_tables(libs):
    volta = {"name": "Tesla V100-SXM2-16GB", "uuid": "GPU-cccc", "total": 16 * GiB,
             "free": 15 * GiB, "cc": (7, 0), "clocks": {1: None, 2: None}}
    libs(pynvml=fake_nvml([volta]))
    info = Device("cuda").info()
    assert info.memory_bandwidth == 900e9                       # table: V100
    assert info.multiprocessor_count is None and info.compute_throughput is None
    assert info.supports_fp16 and not info.supports_bf16


def test_failing_free_memory_query_gives_none(libs):
    nv = fake_nvml([h100()])
    libs(pynvml=nv)
    G._discover()
    nv.nvmlDeviceGetMemoryInfo = lambda h: (_ for _ in ()).throw(FakeNVMLError("GPU is lost"))
    info = Device("cuda").info()
    assert info.available_memory is None
    assert "80.00 GiB total, unknown available" in str(info)


@pytest.mark.parametrize("env, order", [
    (None, [0, 1, 2]), ("", []), ("1", [1]), ("2,0", [2, 0]), ("0,7,1", [0]),
    ("GPU-bbbb", [1]), ("bbbb", [1]), ("GPU-", []), ("1,1", [1]), ("-1", []),
])
def test_cuda_visible_devices_order(env, order):
    uuids = ["GPU-aaaa", "GPU-bbbb", "GPU-cccc"]
    assert G._cuda_visible_order(3, uuids, env) == order


def test_cuda_visible_devices_renumbers_nvml_gpus(libs, monkeypatch):
    libs(pynvml=fake_nvml([h100(), h100(name="second", uuid="GPU-bbbb2222")]))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-bbbb")
    assert devices() == [cpu, "cuda:0"]
    assert Device("cuda:0").info().name == "second"


def test_cupy_is_asked_when_nvml_is_missing(libs):
    libs(cupy=fake_cupy([a100_props(), a100_props(name=b"second")]))
    assert devices() == [cpu, "cuda:0", "cuda:1"]
    info = Device("cuda:1").info()
    assert (info.name, info.source, info.multiprocessor_count) == ("second", "CuPy", 108)
    assert info.memory_bandwidth == pytest.approx(1.5552e12)               # A100 40 GB
    assert info.compute_throughput == pytest.approx(108 * 64 * 1.41e9 * 2)  # 19.5 TFLOP/s
    assert info.available_memory == 30 * GiB + 1                 # memGetInfo on device 1


def test_cupy_without_clock_fields_falls_back_to_tables(libs):
    libs(cupy=fake_cupy([a100_props(clockRate=None, memoryClockRate=None)]))
    info = Device("cuda").info()
    assert info.compute_throughput is None and info.memory_bandwidth == 1555e9


def test_torch_is_asked_when_nvml_and_cupy_find_nothing(libs):
    err = RuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient")
    props = SimpleNamespace(name="NVIDIA GeForce RTX 4090", total_memory=24 * GiB, major=8,
                            minor=9, multi_processor_count=128)
    libs(pynvml=fake_nvml([]), cupy=fake_cupy([], count_error=err), torch=fake_torch([props]))
    info = Device("cuda").info()
    assert (info.source, info.name, info.available_memory) == ("torch", props.name, 20 * GiB)
    assert info.multiprocessor_count == 128 and info.compute_throughput is None
    assert info.memory_bandwidth == 864e9
    assert G._discover().gpus[0].source == "torch"


def test_notes_say_why_each_library_found_nothing(libs):
    err = RuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient")
    libs(pynvml=fake_nvml([]), cupy=fake_cupy([], count_error=err),
         torch=fake_torch([], available=False))
    assert G._discover().notes == (
        "NVML: no NVIDIA GPU listed",
        "CuPy: RuntimeError: cudaErrorInsufficientDriver: CUDA driver version is insufficient",
        "torch: torch.cuda.is_available() is False")


def test_rocm_torch_is_not_taken_for_cuda(libs):
    props = SimpleNamespace(name="AMD Instinct MI300X", total_memory=192 * GiB, major=9,
                            minor=4, multi_processor_count=304)
    libs(torch=fake_torch([props], hip="6.2"))
    assert devices() == [cpu]
    assert "ROCm build" in G._discover().notes[-1]


def test_gpu_info_str_is_readable(libs):
    libs(pynvml=fake_nvml([h100()]))
    text = str(Device("cuda").info())
    assert text.splitlines()[0] == ("cuda:0  NVIDIA H100 80GB HBM3 "
                                    "(compute capability 9.0, 132 SMs)")
    for part in ("80.00 GiB total, 79.00 GiB available", "3.35 TB/s", "66.9 TFLOP/s",
                 "fp16 bf16 fp32 fp64", "1024 per block (reported by NVML)"):
        assert part in text


def test_real_discovery_never_fails_and_lists_the_cpu_first():
    found = devices(refresh=True)
    assert found[0] is cpu and all(d.type == "cuda" for d in found[1:])
    for dev in found:
        assert dev.info().total_memory > 0
    missing = Device(f"cuda:{len(found) - 1}")
    with pytest.raises(DeviceNotFound, match=rf"{NO_GPU}|this machine has"):
        missing.info()


def test_import_loads_no_heavy_library():
    code = ("import sys, langone, langone.tensor.devices, langone.runtime.platform; "
            "print(sorted(m for m in ('psutil', 'pynvml', 'cupy', 'torch') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "LANGONE_PLATFORM": ""})
    assert out.stdout.strip() == "[]"


# --- CPU info ----------------------------------------------------------------------

def test_cpu_info_of_this_machine_is_populated_and_sane():
    info = cpu.info()
    assert isinstance(info, CPUDeviceInfo) and info.device is cpu
    assert info.name and info.model == info.name and info.architecture
    assert info.logical_cores == os.cpu_count()
    assert info.physical_cores is None or 1 <= info.physical_cores <= info.logical_cores
    assert 0 < info.available_memory <= info.total_memory
    assert 0 < info.usable_memory <= info.total_memory
    sizes = [s for s in (info.l1d_cache, info.l2_cache, info.l3_cache) if s is not None]
    assert sizes == sorted(sizes) and all(s >= 1024 for s in sizes)
    if info.max_frequency is not None:
        assert 1e8 < info.max_frequency < 1e10
        assert info.compute_throughput >= 2 * info.max_frequency
    if info.architecture == "x86_64":
        assert "sse2" in info.simd
    if sys.platform == "linux":
        assert info.l1d_cache is not None
    assert info.supports_fp64


def test_cpu_info_reads_available_memory_live(monkeypatch):
    monkeypatch.setattr(C, "_available_memory", lambda: 12345)
    assert cpu_info().available_memory == 12345
    assert cpu_info(refresh=True).available_memory == 12345


def test_cpu_info_str_is_readable():
    info = replace(cpu_info(), name="Test CPU", architecture="x86_64", vendor="GenuineIntel",
                   physical_cores=8, logical_cores=16, l1d_cache=48 * 1024, l2_cache=None,
                   l3_cache=30 * 1024 ** 2, total_memory=32 * GiB, available_memory=20 * GiB,
                   memory_limit=8 * GiB, simd=("avx2", "fma"), max_frequency=3.5e9,
                   compute_throughput=1.792e12, memory_bandwidth=None, hypervisor=False)
    assert str(info).splitlines() == [
        "cpu  Test CPU (x86_64, GenuineIntel)",
        "  cores       8 physical, 16 logical at 3.50 GHz",
        "  caches      L1d 48.00 KiB, L2 unknown, L3 30.00 MiB",
        "  memory      32.00 GiB total, 20.00 GiB available, container limit 8.00 GiB",
        "  SIMD        avx2 fma",
        "  fp32 peak   1.79 TFLOP/s (estimate)",
        "  bandwidth   unknown",
    ]
    assert info.usable_memory == 8 * GiB


def test_precision_support_follows_simd_flags():
    info = cpu_info()
    assert replace(info, simd=("avx2", "f16c")).supports_fp16
    assert not replace(info, simd=("avx2", "f16c")).supports_bf16
    assert replace(info, simd=("asimd", "bf16")).supports_bf16
    assert not replace(info, simd=("sse2",)).supports_fp16


X86_CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC 9654 96-Core Processor
cpu MHz\t\t: 2400.000
flags\t\t: fpu sse sse2 pni ssse3 fma sse4_1 sse4_2 avx f16c avx2 avx512f avx512_bf16 hypervisor

processor\t: 1
model name\t: ignored second block
"""

PI_CPUINFO = """processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid
CPU implementer\t: 0x41
CPU part\t: 0xd08

Hardware\t: BCM2835
Model\t\t: Raspberry Pi 4 Model B Rev 1.4
"""


def test_parse_cpuinfo_x86_and_raspberry_pi():
    x86 = C._parse_cpuinfo(X86_CPUINFO)
    assert C._cpu_name(x86) == "AMD EPYC 9654 96-Core Processor"
    assert x86["cpu family"] == "25" and x86["cpu mhz"] == "2400.000"
    assert C._simd_features(set(x86["flags"].split()), "x86_64") == (
        "sse2", "sse3", "ssse3", "sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c",
        "avx512f", "avx512_bf16")
    pi = C._parse_cpuinfo(PI_CPUINFO)
    assert C._cpu_name(pi) == "Raspberry Pi 4 Model B Rev 1.4"
    assert C._ARM_VENDORS[pi["cpu implementer"]] == "ARM"
    assert C._simd_features(set(pi["features"].split()), "aarch64") == ("neon", "asimd")
    assert C._cpu_name({"model": "17"}) is None            # x86 model number is no name


@pytest.mark.parametrize("simd, arch, vendor, family, flops_per_cycle", [
    (("avx2", "avx", "fma", "avx512f"), "x86_64", "AuthenticAMD", 25, 32),   # Zen 4
    (("avx2", "avx", "fma", "avx512f"), "x86_64", "GenuineIntel", 6, 64),    # 2 x AVX-512 FMA
    (("avx", "avx2", "fma"), "x86_64", "AuthenticAMD", 23, 32),
    (("sse2", "avx"), "x86_64", "GenuineIntel", 6, 16),                      # no FMA
    (("neon", "asimd"), "aarch64", "ARM", None, 16),
    (("neon",), "armv7l", "ARM", None, 4),
])
def test_peak_fp32_estimate(simd, arch, vendor, family, flops_per_cycle):
    assert C._peak_fp32(4, 2e9, simd, arch, vendor, family) == 4 * 2e9 * flops_per_cycle
    assert C._peak_fp32(4, None, simd, arch, vendor, family) is None


@pytest.mark.parametrize("text, size", [("32K", 32768), ("1024K", 1 << 20), ("2M", 2 << 20),
                                        ("512", 512), ("2 MiB", 2 << 20), ("1.5 MiB", 3 << 19),
                                        ("", None), ("big", None)])
def test_parse_size(text, size):
    assert C._parse_size(text) == size


def test_cache_sizes_from_sysfs(tmp_path):
    for i, (level, kind, size) in enumerate([(1, "Data", "48K"), (1, "Instruction", "32K"),
                                             (2, "Unified", "2048K"), (3, "Unified", "36M")]):
        entry = tmp_path / f"index{i}"
        entry.mkdir()
        (entry / "level").write_text(f"{level}\n")
        (entry / "type").write_text(f"{kind}\n")
        (entry / "size").write_text(f"{size}\n")
    assert C._cache_sizes_sysfs(tmp_path) == {1: 48 << 10, 2: 2 << 20, 3: 36 << 20}
    assert C._cache_sizes_sysfs(tmp_path / "missing") == {}


def test_cache_sizes_from_lscpu_output():
    out = "NAME ONE-SIZE\nL1d     32768\nL1i     32768\nL2    1048576\nL3   33554432\n"
    assert C._parse_lscpu_caches(out) == {1: 32768, 2: 1048576, 3: 33554432}


def dimm(speed: int, width: int = 64, size: int = 16384, configured: int | None = None,
         length: int = 0x28) -> bytes:
    raw = bytearray(length)
    raw[0], raw[1] = 17, length
    raw[0x0A:0x0C] = width.to_bytes(2, "little")
    raw[0x0C:0x0E] = size.to_bytes(2, "little")
    raw[0x15:0x17] = speed.to_bytes(2, "little")
    if length >= 0x22:
        raw[0x20:0x22] = (speed if configured is None else configured).to_bytes(2, "little")
    return bytes(raw)


def test_dimm_bandwidth_from_smbios_type_17():
    assert C._dimm_bandwidth(dimm(3200)) == 3200e6 * 8                  # DDR4-3200: 25.6 GB/s
    assert C._dimm_bandwidth(dimm(3200, configured=2933)) == 2933e6 * 8  # configured wins
    assert C._dimm_bandwidth(dimm(2400, length=0x1C)) == 2400e6 * 8      # SMBIOS 2.3: rated
    assert C._dimm_bandwidth(dimm(3200, size=0)) == 0                    # empty slot
    assert C._dimm_bandwidth(dimm(0)) == 0 and C._dimm_bandwidth(b"\x11") == 0
    extended = bytearray(dimm(0xFFFF, length=0x5C))
    extended[0x58:0x5C] = (70000).to_bytes(4, "little")
    assert C._dimm_bandwidth(bytes(extended)) == 70000e6 * 8


def test_dmi_memory_bandwidth_sums_dimms_and_gives_none_when_unreadable(tmp_path):
    for i, raw in enumerate([dimm(3200), dimm(3200), dimm(3200, size=0)]):
        (tmp_path / f"17-{i}").mkdir()
        (tmp_path / f"17-{i}" / "raw").write_bytes(raw)
    assert C._dmi_memory_bandwidth(tmp_path) == 2 * 25.6e9
    (tmp_path / "17-9" / "raw").mkdir(parents=True)            # reading it fails: OSError
    assert C._dmi_memory_bandwidth(tmp_path) is None
    assert C._dmi_memory_bandwidth(tmp_path / "none") is None


@pytest.mark.parametrize("files, total, limit", [
    ({"/sys/fs/cgroup/memory.max": "2147483648\n"}, 8 * GiB, 2 * GiB),          # cgroup v2
    ({"/sys/fs/cgroup/memory.max": "max\n"}, 8 * GiB, None),
    ({"/sys/fs/cgroup/memory/memory.limit_in_bytes": "1073741824"}, 8 * GiB, GiB),  # v1
    ({"/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712"}, 8 * GiB, None),
    ({"/sys/fs/cgroup/memory.max": "2147483648\n"}, GiB, None),         # above the RAM
    ({}, 8 * GiB, None),
])
def test_cgroup_memory_limit(monkeypatch, files, total, limit):
    monkeypatch.setattr(C, "_read", files.get)
    assert C._cgroup_memory_limit(total) == limit
