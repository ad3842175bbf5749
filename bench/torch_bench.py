"""PyTorch CPU reference for `npm run bench`: the same MobileNetV2 224 workloads, printed as one JSON line.

Usage: python3 bench/torch_bench.py '{"threads": 2, "extract_images": 64, "finetune_images": 256,
        "finetune_epochs": 10, "naive_epochs": 3, "head_images": 1000, "head_epochs": 20}'
"parts": "extract" stops after the extraction measurement. Images are random tensors already in memory (no decoding): this measures the network, as the bare TF.js loop does.
"parts": "head" runs only the head comparison on vectors the bench wrote (`head_data`: a folder with x.f32,
y.i32 and meta.json): see head_to_target.
"""
import json
import sys
import time

import torch
import torchvision


def head_to_target(cfg: dict) -> dict:
    """PyTorch's standard loop on the bench's cached-like vectors: dropout -> linear, Adam, cross-entropy plus
    an L2 term on the weight matrix, batch 16, a validation pass after every epoch. The target is its best
    validation loss over `epochs`; it reports when (seconds since training started, validation included; and
    this process's CPU seconds by then) it first reached it, and its epochs/s. Threads: the faster of 1 and 2 on a short trial, unless given."""
    import numpy as np

    folder = cfg["head_data"]
    with open(f"{folder}/meta.json", encoding="utf8") as f:
        meta = json.load(f)
    n, v, dim, classes = meta["train"], meta["val"], meta["dim"], meta["classes"]
    x = torch.from_numpy(np.fromfile(f"{folder}/x.f32", dtype=np.float32).reshape(n + v, dim))
    y = torch.from_numpy(np.fromfile(f"{folder}/y.i32", dtype=np.int32).astype(np.int64))
    xt, yt, xv, yv = x[:n], y[:n], x[n:], y[n:]
    batch = int(cfg.get("batch", 16))
    epochs = int(cfg.get("epochs", 50))
    l2 = float(cfg.get("l2", 1e-4))

    def new_head() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
        torch.manual_seed(int(cfg.get("seed", 0)))
        head = torch.nn.Sequential(torch.nn.Dropout(float(cfg.get("dropout", 0.2))), torch.nn.Linear(dim, classes))
        return head, torch.optim.Adam(head.parameters(), lr=float(cfg.get("lr", 1e-3)))

    def epoch(head: torch.nn.Module, opt: torch.optim.Optimizer) -> None:
        head.train()
        perm = torch.randperm(n)
        for i in range(0, n, batch):
            idx = perm[i : i + batch]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(head(xt[idx]), yt[idx]) + l2 * head[1].weight.pow(2).sum()
            loss.backward()
            opt.step()

    def validate(head: torch.nn.Module) -> float:
        head.eval()
        with torch.no_grad():
            return float(torch.nn.functional.cross_entropy(head(xv), yv))

    # Under other load PyTorch's second thread can cost more than it brings on ops this small: pick its best.
    threads = cfg.get("threads")
    trial: dict = {}
    if threads is None:
        for t in (1, 2):
            torch.set_num_threads(t)
            head, opt = new_head()
            start = time.perf_counter()
            for _ in range(2):
                epoch(head, opt)
            trial[t] = 2 / (time.perf_counter() - start)
        threads = max(trial, key=lambda t: trial[t])
    torch.set_num_threads(int(threads))

    head, opt = new_head()
    losses, times, cpu = [], [], []
    start = time.perf_counter()
    cpu_start = time.process_time()
    for _ in range(epochs):
        epoch(head, opt)
        losses.append(validate(head))
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu_start)
    best = min(range(epochs), key=lambda e: losses[e])
    return {
        "torch": torch.__version__,
        "threads": int(threads),
        "thread_trial_epochs_per_s": {str(k): round(val, 2) for k, val in trial.items()},
        "target": losses[best],
        "best_epoch": best + 1,
        "seconds_to_target": times[best],
        "cpu_seconds_to_target": cpu[best],
        "epochs_per_s": epochs / times[-1],
        "val_losses": [round(val, 4) for val in losses],
    }


def main() -> None:
    cfg = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    if cfg.get("parts") == "head":
        print(json.dumps(head_to_target(cfg)))
        return
    threads = int(cfg.get("threads", 2))
    batch = int(cfg.get("batch", 16))
    classes = int(cfg.get("classes", 4))
    torch.set_num_threads(threads)
    torch.manual_seed(int(cfg.get("seed", 0)))

    net = torchvision.models.mobilenet_v2(weights=None)
    base = torch.nn.Sequential(net.features, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    base.eval()  # frozen base: BatchNorm in inference mode, as in Tunewise
    for p in base.parameters():
        p.requires_grad_(False)

    def images(n: int) -> torch.Tensor:
        return torch.rand(n, 3, 224, 224)

    def forward_all(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return torch.cat([base(x[i : i + batch]) for i in range(0, x.shape[0], batch)])

    def new_head() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
        # Tunewise's default head: dropout 0.2 -> dense(classes, softmax), Adam 1e-3.
        head = torch.nn.Sequential(torch.nn.Dropout(0.2), torch.nn.Linear(1280, classes))
        return head, torch.optim.Adam(head.parameters(), lr=1e-3)

    def head_epoch(head: torch.nn.Module, opt: torch.optim.Optimizer, feats: torch.Tensor, y: torch.Tensor) -> None:
        head.train()
        perm = torch.randperm(feats.shape[0])
        for i in range(0, feats.shape[0], batch):
            idx = perm[i : i + batch]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(head(feats[idx]), y[idx])
            loss.backward()
            opt.step()

    out: dict = {"torch": torch.__version__, "torchvision": torchvision.__version__, "threads": threads}

    # Warm-up (first call allocates and picks kernels).
    forward_all(images(batch))

    n = int(cfg.get("extract_images", 64))
    x = images(n)
    t = time.perf_counter()
    forward_all(x)
    out["extract_images_per_s"] = n / (time.perf_counter() - t)
    if cfg.get("parts") == "extract":
        print(json.dumps(out))
        return

    # 10-epoch frozen-base fine-tune: naive (base every epoch) vs cached features.
    n = int(cfg.get("finetune_images", 256))
    epochs = int(cfg.get("finetune_epochs", 10))
    naive_epochs = int(cfg.get("naive_epochs", epochs))
    x = images(n)
    y = torch.randint(0, classes, (n,))
    head, opt = new_head()
    t = time.perf_counter()
    for _ in range(naive_epochs):
        perm = torch.randperm(n)
        head.train()
        for i in range(0, n, batch):
            idx = perm[i : i + batch]
            with torch.no_grad():
                f = base(x[idx])
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(head(f), y[idx])
            loss.backward()
            opt.step()
    naive = time.perf_counter() - t
    out["naive_measured_epochs"] = naive_epochs
    out["naive_measured_s"] = naive
    out["naive_s"] = naive * epochs / naive_epochs

    head, opt = new_head()
    t = time.perf_counter()
    feats = forward_all(x)
    for _ in range(epochs):
        head_epoch(head, opt, feats, y)
    out["cached_s"] = time.perf_counter() - t

    # Head training on cached features alone.
    n = int(cfg.get("head_images", 1000))
    e = int(cfg.get("head_epochs", 20))
    feats = torch.randn(n, 1280)
    y = torch.randint(0, classes, (n,))
    head, opt = new_head()
    t = time.perf_counter()
    for _ in range(e):
        head_epoch(head, opt, feats, y)
    out["head_epochs_per_s"] = e / (time.perf_counter() - t)

    print(json.dumps(out))


if __name__ == "__main__":
    main()
