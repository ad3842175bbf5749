"""PyTorch CPU reference for `npm run bench`: the same MobileNetV2 224 workloads, printed as one JSON line.

Usage: python3 bench/torch_bench.py '{"threads": 2, "extract_images": 64, "finetune_images": 256,
        "finetune_epochs": 10, "naive_epochs": 3, "head_images": 1000, "head_epochs": 20}'
"parts": "extract" stops after the extraction measurement. Images are random tensors already in memory (no decoding): this measures the network, as the bare TF.js loop does.
"""
import json
import sys
import time

import torch
import torchvision


def main() -> None:
    cfg = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    threads = int(cfg.get("threads", 2))
    batch = int(cfg.get("batch", 16))
    classes = int(cfg.get("classes", 4))
    torch.set_num_threads(threads)
    torch.manual_seed(0)

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
