from django.utils.text import slugify


def unique_slug(model, name: str, fallback: str) -> str:
    """A slug from `name` that no `model` row has yet: "disk", "disk-2", ..."""
    base = slugify(name)[:56] or fallback
    slug, n = base, 2
    while model.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug
