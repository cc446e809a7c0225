"""Transfer learning by head replacement: torchvision's ResNet-18 and VGG16 with a new classifier.

References:
    K. He, X. Zhang, S. Ren and J. Sun. "Deep Residual Learning for Image Recognition." CVPR 2016.
    K. Simonyan and A. Zisserman. "Very Deep Convolutional Networks for Large-Scale Image
    Recognition." ICLR 2015.
    J. Yosinski, J. Clune, Y. Bengio and H. Lipson. "How transferable are features in deep neural
    networks?" NeurIPS 2014.

A network trained on ImageNet has learned general features (edges, textures, object parts) in its
convolutional layers; only its last layer is specific to ImageNet's 1000 classes. To reuse it for
a new task we keep the backbone, *freeze* it (``requires_grad = False``: no gradient is computed
for it and the optimizer leaves it alone) and replace the last layer, the *head*, with a fresh
trainable ``nn.Linear`` for the new classes. With more data one also fine-tunes the last stage
(``layer4`` of a ResNet).

    resnet18                                  trainable
    conv1, bn1, layer1 ... layer3             no
    layer4                                    only with finetune="layer4"
    fc = Linear(512, num_classes)             yes (new)

    vgg16                                     trainable
    features (13 convolutions)                no
    classifier[0] Linear(25088, 4096)         yes
    classifier[3] Linear(4096, 4096)          yes
    classifier[6] = Linear(4096, num_classes) yes (new)

Freezing comes first and the new head second: a module created after the freeze has
``requires_grad = True`` parameters, as every new module does.
"""

from __future__ import annotations

from torch import nn
from torchvision import models

__all__ = ["FINETUNE_CHOICES", "resnet18_transfer", "vgg16_transfer", "trainable_parameters"]

#: What ``resnet18_transfer`` may train besides the new head.
FINETUNE_CHOICES = ("fc", "layer4")


def _freeze(module: nn.Module) -> None:
    """Turn off gradients for every parameter of ``module`` (batch-norm weights included)."""
    for p in module.parameters():
        p.requires_grad = False


def resnet18_transfer(num_classes: int, weights=None, finetune: str = "fc") -> nn.Module:
    """torchvision's ResNet-18, frozen, with a new trainable ``fc = Linear(512, num_classes)``.

    ``finetune="layer4"`` also trains the last residual stage. ``weights`` goes to torchvision
    as it is (None: random initialisation, nothing downloaded).
    """
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
    """torchvision's VGG16 with ``features`` frozen and a new ``classifier[6] = Linear(4096,
    num_classes)``; the rest of the classifier stays trainable."""
    # BEGIN SOLUTION
    model = models.vgg16(weights=weights)
    _freeze(model.features)
    model.classifier[6] = nn.Linear(model.classifier[6].in_features, num_classes)
    return model
    # END SOLUTION


def trainable_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The parameters of ``model`` with ``requires_grad``, the very tensors, for an optimizer."""
    # BEGIN SOLUTION
    return [p for p in model.parameters() if p.requires_grad]
    # END SOLUTION
