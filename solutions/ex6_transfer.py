"""Exercise 6: transfer learning by replacing the head of a pretrained network.

A network trained on ImageNet (1.2 million images, 1000 classes) has learned general features in
its convolutional layers: edges and colours first, then textures, then object parts (J. Yosinski,
J. Clune, Y. Bengio and H. Lipson, "How transferable are features in deep neural networks?",
NeurIPS 2014). Only its last layer, the *head*, is specific to ImageNet's classes. To reuse the
network for a new task:

1. load the pretrained network from torchvision;
2. *freeze* it: set ``requires_grad = False`` on its parameters, so that ``loss.backward()``
   computes no gradient for them and the optimizer leaves them exactly as they are;
3. replace the head with a fresh ``nn.Linear`` with one output per new class. A newly created
   layer has ``requires_grad = True``, so the head is the only part that trains.

You will do this for ResNet-18 (K. He, X. Zhang, S. Ren and J. Sun, "Deep Residual Learning for
Image Recognition", CVPR 2016) and VGG16 (K. Simonyan and A. Zisserman, "Very Deep Convolutional
Networks for Large-Scale Image Recognition", ICLR 2015), both from ``torchvision.models``.

Fill in the three functions below: every place that says ``raise NotImplementedError``. Check your
work with ``grade check ex6`` (public tests; the hidden tests check more, see the handout
``assignments/ex6.md``). The grader always passes ``weights=None`` (random weights, nothing is
downloaded); to train for real, pass ``weights="IMAGENET1K_V1"`` (or
``models.ResNet18_Weights.IMAGENET1K_V1``) and torchvision downloads the pretrained weights once.
"""

# BEGIN SOLUTION NO PROMPT
# Reference solution (instructor only). `grade assign` writes the student's stub from this file:
# every "BEGIN SOLUTION" block becomes `raise NotImplementedError`, and blocks like this one go.
# END SOLUTION

from __future__ import annotations

from torch import nn
from torchvision import models  # noqa: F401  (models.resnet18, models.vgg16)

__all__ = ["FINETUNE_CHOICES", "resnet18_transfer", "vgg16_transfer", "trainable_parameters"]

#: What ``resnet18_transfer`` may train besides the new head (given: use it to check ``finetune``).
FINETUNE_CHOICES = ("fc", "layer4")


# BEGIN SOLUTION NO PROMPT
def _freeze(module: nn.Module) -> None:
    """Turn off gradients for every parameter of ``module`` (batch-norm weights included)."""
    for p in module.parameters():
        p.requires_grad = False
# END SOLUTION


def resnet18_transfer(num_classes: int, weights=None, finetune: str = "fc") -> nn.Module:
    """torchvision's ResNet-18 with a frozen backbone and a new trainable head.

    torchvision's ResNet-18, for images of shape (N, 3, H, W):

        part                                  output shape for 224x224   trainable here
        ------------------------------------  -------------------------  -----------------------
        conv1 7x7 stride 2, bn1, relu         (N, 64, 112, 112)          no
        maxpool 3x3 stride 2                  (N, 64, 56, 56)            (no parameters)
        layer1 (2 BasicBlocks)                (N, 64, 56, 56)            no
        layer2                                (N, 128, 28, 28)           no
        layer3                                (N, 256, 14, 14)           no
        layer4                                (N, 512, 7, 7)             only if finetune="layer4"
        avgpool (adaptive, to 1x1) + flatten  (N, 512)                   (no parameters)
        fc = Linear(512, num_classes)         (N, num_classes)           yes: the new head

    Args:
        num_classes: number of classes of the new task: the size of the new head's output.
        weights: handed to ``models.resnet18(weights=weights)`` as it is: a name such as
            "IMAGENET1K_V1" or ``models.ResNet18_Weights.IMAGENET1K_V1``, torchvision takes both. None
            (the default, and what the grader uses) means random initial weights and no download.
        finetune: what trains besides the head. "fc" (the default): the head alone.
            "layer4": the last residual stage ``model.layer4`` as well. Anything else raises
            ``ValueError`` (compared exactly: "FC" and " fc" too).

    Returns:
        the model, an ``nn.Module`` (torchvision's ``ResNet``) whose ``fc`` is a new
        ``nn.Linear(512, num_classes)`` with its bias.

    Rules the grader checks:

    - Every parameter of the backbone has ``requires_grad=False``: the convolutions *and* the
      batch norms' weights and biases (they are parameters too).
    - ``model.fc`` is a new ``nn.Linear(512, num_classes)`` and trainable (``requires_grad=True``),
      also for ``num_classes=1000``, whose shape the old head already has.
    - With ``finetune="layer4"``, exactly ``layer4`` and ``fc`` are trainable.
    - After an optimizer step over ``trainable_parameters(model)`` every frozen parameter is
      bit-identical and has no gradient (``p.grad is None``).
    - It is torchvision's network: the same layers (none added or wrapped), and with the same
      weights the same output.
    - Every call builds a new model: two calls share no parameter.
    """
    # TODO:
    #   1. check finetune: raise ValueError (saying which values are allowed) unless it is one
    #      of FINETUNE_CHOICES. Checking first saves building a model for nothing.
    #   2. model = models.resnet18(weights=...), handing the argument on as it is
    #   3. freeze every parameter of model.
    #   4. if finetune == "layer4": make every parameter of model.layer4 trainable again.
    #   5. replace the head: model.fc = nn.Linear(512, num_classes)  (512 is model.fc.in_features)
    #   6. return model
    # Hints:
    #   - Freeze with model.requires_grad_(False), or with
    #     `for p in model.parameters(): p.requires_grad = False`. Either way every parameter,
    #     batch-norm weights and biases included, not only the convolutions' weights.
    #   - Order matters: freeze (step 3) BEFORE creating the new head (step 5). A new nn.Linear
    #     starts with requires_grad=True; freezing all parameters after the replacement freezes
    #     the new head too, and then nothing can learn.
    #   - Do not wrap the model in another module or add layers: the grader compares it with
    #     torchvision's resnet18 parameter by parameter (names such as "layer4.1.bn2.weight").
    #   - Check: sum(p.numel() for p in model.parameters() if p.requires_grad) is
    #     512 * num_classes + num_classes for finetune="fc".
    # BEGIN SOLUTION
    if finetune not in FINETUNE_CHOICES:
        raise ValueError(f"finetune must be one of {FINETUNE_CHOICES}, got {finetune!r}")
    model = models.resnet18(weights=weights)
    _freeze(model)
    if finetune == "layer4":
        model.layer4.requires_grad_(True)
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model
    # END SOLUTION


def vgg16_transfer(num_classes: int, weights=None) -> nn.Module:
    """torchvision's VGG16 with its convolutional part frozen and a new last layer.

    torchvision's VGG16 has two parts (and an adaptive average pool to 7x7 between them):

        part                                          trainable here
        --------------------------------------------  --------------------------
        features: 13 Conv2d 3x3 + ReLU, 5 MaxPool2d   no (frozen)
        avgpool: AdaptiveAvgPool2d((7, 7))            (no parameters)
        classifier[0] Linear(512*7*7, 4096), ReLU     yes
        classifier[2] Dropout
        classifier[3] Linear(4096, 4096), ReLU        yes
        classifier[5] Dropout
        classifier[6] Linear(4096, num_classes)       yes: the new head

    Args:
        num_classes: number of classes of the new task.
        weights: handed to ``models.vgg16(weights=weights)`` as it is, a name or a
            ``models.VGG16_Weights`` member (None: no download).

    Returns:
        the model (torchvision's ``VGG``) whose ``classifier[6]`` is a new
        ``nn.Linear(4096, num_classes)``, also when num_classes is ImageNet's 1000.

    Rules the grader checks: every parameter of ``model.features`` has ``requires_grad=False``;
    every parameter of ``model.classifier`` is trainable; ``classifier[6]`` is
    ``Linear(4096, num_classes)`` and everything else is torchvision's vgg16 as it is.
    """
    # TODO:
    #   1. model = models.vgg16(weights=weights)
    #   2. freeze model.features (only features: the classifier keeps training).
    #   3. replace the last layer of the classifier (index 6, an nn.Sequential element):
    #      model.classifier[6] = nn.Linear(4096, num_classes)
    #   4. return model
    # Hints:
    #   - model.classifier is an nn.Sequential: you can assign to an index like a list.
    #   - Replace classifier[6] (the last one, also classifier[-1]), not classifier[0].
    #   - VGG16 has 138 million parameters (553 MB): build it once, and test on small inputs.
    # BEGIN SOLUTION
    model = models.vgg16(weights=weights)
    _freeze(model.features)
    model.classifier[6] = nn.Linear(model.classifier[6].in_features, num_classes)
    return model
    # END SOLUTION


def trainable_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The parameters an optimizer should update: those with ``requires_grad=True``.

    Args:
        model: any ``nn.Module``.

    Returns:
        a list of the model's own ``nn.Parameter`` objects (not copies, not names) that have
        ``requires_grad=True``, each once, in any order; an empty list when everything is
        frozen. Use it as ``torch.optim.SGD(trainable_parameters(model), lr=0.01)``.
    """
    # TODO: one line: go through model.parameters() and keep those with p.requires_grad.
    # Hints:
    #   - Return a list, not a generator or a filter object: a generator is used up after one
    #     pass, so a second look at it (or a second optimizer) finds it empty.
    #   - Return p itself: p.data, p.detach() or p.clone() are different tensors, and an
    #     optimizer updating them would leave the model unchanged.
    #   - Do not change requires_grad here: only read it.
    # BEGIN SOLUTION
    return [p for p in model.parameters() if p.requires_grad]
    # END SOLUTION
