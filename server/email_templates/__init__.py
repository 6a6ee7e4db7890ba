"""Shop-written emails: the template language, the finishing of what it renders, and the shop's templates."""
