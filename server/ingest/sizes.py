"""The documented size limits on everything a client may send."""

BATCH_BYTES = 500 * 1024
BATCH_MESSAGES = 100
MESSAGE_BYTES = 32 * 1024
NAME_CHARS = 255
URL_CHARS = 2048
ID_CHARS = 64
TIME_ZONE_CHARS = 64  # an IANA time zone's name (contacts.time_zone)
V3_EVENT_PROPERTIES_BYTES = 50 * 1024
V3_BATCH_EVENTS = 100
REQUEST_BYTES = 1024 * 1024
PROPERTY_KEYS = 200
NESTING_DEPTH = 10
ATTRIBUTES_PER_SITE = 200  # contact attributes a site may define (its defaults included)
ATTRIBUTE_CHOICES = 100  # values of one category attribute
ATTRIBUTE_LABEL_CHARS = 200  # a category value's label, as Brevo limits it
CATALOGUE_BATCH = 100  # categories or products in one batch, as Brevo takes them
ORDER_BATCH = 1000  # orders in one batch, as Brevo takes them
ORDER_PRODUCTS = 1000  # lines of one order
COMMERCE_DOCUMENT_BYTES = 64 * 1024  # one category, product or order as JSON
COMMERCE_TEXT_CHARS = 20000  # a product's description
