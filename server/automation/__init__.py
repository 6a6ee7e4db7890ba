"""What happens next: carts and the worker that runs each site's abandoned-cart workflow."""
