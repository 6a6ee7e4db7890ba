// Brevo's official Node SDK as a shop's server uses it, pointed at Sibyl: `node check.mjs BASE_URL API_KEY EMAIL`.
// Prints what each call answered, as one JSON object, for tests/test_node_sdk.py to check.
import { BrevoClient, BrevoError } from "@getbrevo/brevo";

const [baseUrl, apiKey, email] = process.argv.slice(2);
const brevo = new BrevoClient({ apiKey, baseUrl, maxRetries: 0, timeoutInSeconds: 10 });
const results = {};

async function refused(call) {
  try {
    await call();
    return null;
  } catch (error) {
    if (error instanceof BrevoError) return { status: error.statusCode, body: error.body };
    throw error;
  }
}

const order = (id, status) => ({
  id, status, amount: 65, createdAt: "2024-05-01T10:00:00Z", updatedAt: "2024-05-01T10:05:00Z",
  identifiers: { email_id: email },
  products: [{ productId: "P1", price: 50, quantity: 1 }, { productId: "P2", price: 15, quantity: 1 }],
});

results.createdContact = await brevo.contacts.createContact({ email, attributes: { FIRSTNAME: "Ada" } });
results.contact = await brevo.contacts.getContactInfo({ identifier: email });
results.event = (await brevo.event.createEvent({
  event_name: "cart_updated",
  identifiers: { email_id: email },
  event_properties: { id: "cart-1", data: { items: [{ productId: "P1", quantity: 1 }] } },
})) ?? null;

await brevo.ecommerce.activateTheECommerceApp();
results.displayCurrency = await brevo.ecommerce.getTheIso4217CompliantDisplayCurrencyCodeForYourBrevoAccount();
results.setDisplayCurrency = await brevo.ecommerce.setConfigDisplayCurrency({ code: "GBP" });
results.badDisplayCurrency = await refused(() => brevo.ecommerce.setConfigDisplayCurrency({ code: "POUND" }));
results.category = await brevo.ecommerce.createUpdateCategory({ id: "watches", name: "Watches" });
results.categoryBatch = await brevo.ecommerce.createUpdateBatchCategory({
  categories: [{ id: "watches", name: "All watches" }, { id: "straps", name: "Straps" }],
  updateEnabled: true,
});
results.categories = await brevo.ecommerce.getCategories({ sort: "asc" });
results.categoryInfo = await brevo.ecommerce.getCategoryInfo({ id: "watches" });
results.product = await brevo.ecommerce.createUpdateProduct({
  id: "P1", name: "Wrist watch", price: 50, imageUrl: "https://shop.example/w.png", categories: ["watches"],
});
results.duplicateProduct = await refused(() => brevo.ecommerce.createUpdateProduct({ id: "P1", name: "Again" }));
results.productUpdate = (await brevo.ecommerce.createUpdateProduct({ id: "P1", name: "Watch", updateEnabled: true }))
  ?? null;
results.productBatch = await brevo.ecommerce.createUpdateBatchProducts({
  products: [{ id: "P2", name: "Leather strap", price: 15, categories: ["straps"] },
             { id: "P3", name: "Steel strap", price: 25, categories: ["straps"] }],
});
results.products = await brevo.ecommerce.getProducts({ ids: ["P1", "P2", "P3"], sortByField: "price", sort: "asc" });
results.productInfo = await brevo.ecommerce.getProductInfo({ id: "P1" });
results.missingProduct = await refused(() => brevo.ecommerce.getProductInfo({ id: "P9" }));
results.orderBatch = await brevo.ecommerce.createBatchOrder({ orders: [order("H-1", "paid")] });
results.order = (await brevo.ecommerce.createOrder(order("O-1", "paid"))) ?? null;
results.badOrder = await refused(() => brevo.ecommerce.createOrder({ ...order("O-2", "paid"), amount: "lots" }));
results.orders = await brevo.ecommerce.getOrders({ sort: "asc" });

console.log(JSON.stringify(results));
