// @ts-check
// Drives the customer-flows HTTP API with Medusa's own JS SDK (@medusajs/js-sdk, pinned in
// package.json) and checks the results have the shapes the SDK's types promise
// (AdminCustomerResponse, AdminCustomerListResponse, DeleteResponse, StoreCustomerResponse, ...).
// Run by tests/api/test_js_sdk.py with BASE_URL, ADMIN_EMAIL, ADMIN_PASSWORD and RUN in the env;
// `tsc -p .` first checks this file against the SDK's declared types (@medusajs/types 2.21.2), so
// every field asserted on below is one the SDK's types promise. Where a request is wrong on
// purpose, or the SDK's type differs from the route's answer, the value is cast and said so.
import assert from "node:assert/strict"
import Medusa, { FetchError } from "@medusajs/js-sdk"

const env = (/** @type {string} */ name) => {
  const value = process.env[name]
  assert.ok(value, `${name} is not set`)
  return value
}
const [BASE_URL, ADMIN_EMAIL, ADMIN_PASSWORD, RUN] = ["BASE_URL", "ADMIN_EMAIL", "ADMIN_PASSWORD", "RUN"].map(env)
/** @type {{type: "jwt", jwtTokenStorageMethod: "memory"}} */
const memory = { type: "jwt", jwtTokenStorageMethod: "memory" }
let checks = 0
const check = (/** @type {() => void} */ fn) => { fn(); checks += 1 }
/** A request that is wrong on purpose: its body is not of the SDK's type. */
const untyped = (/** @type {Record<string, unknown>} */ body) => /** @type {any} */ (body)

/**
 * @param {Promise<unknown>} promise
 * @param {number} status
 * @param {string} [message]
 */
async function rejects(promise, status, message) {
  try {
    await promise
  } catch (error) {
    assert.ok(error instanceof FetchError, `expected a FetchError, got ${error}`)
    check(() => assert.equal(error.status, status))
    if (message) check(() => assert.equal(error.message, message))
    return
  }
  assert.fail(`expected HTTP ${status}`)
}

// --- admin: login (JWT), customers, addresses, groups, API keys -------------------------------
const admin = new Medusa({ baseUrl: BASE_URL, auth: memory })
const token = await admin.auth.login("user", "emailpass", { email: ADMIN_EMAIL, password: ADMIN_PASSWORD })
check(() => assert.equal(typeof token, "string"))
await rejects(
  new Medusa({ baseUrl: BASE_URL, auth: memory }).auth.login("user", "emailpass", { email: ADMIN_EMAIL, password: "wrong" }),
  401, "Invalid email or password",
)

const email = `sdk.${RUN}@example.com`
const { customer } = await admin.admin.customer.create({ email, first_name: "Sdk", metadata: { run: RUN } })
check(() => assert.match(customer.id, /^cus_/))
check(() => assert.equal(customer.email, email))
check(() => assert.equal(customer.has_account, false))
check(() => assert.deepEqual(customer.metadata, { run: RUN }))
check(() => assert.ok(!Number.isNaN(Date.parse(String(customer.created_at)))))
await rejects(admin.admin.customer.create(untyped({ email, has_account: true })), 400, "Invalid request: Unrecognized fields: 'has_account'")
await rejects(admin.admin.customer.create({ email }), 400)

const listed = await admin.admin.customer.list({ q: RUN, fields: "id,email,*groups", limit: 10, order: "-created_at" })
check(() => assert.deepEqual(Object.keys(listed).sort(), ["count", "customers", "limit", "offset"]))
check(() => assert.equal(listed.count, 1))
check(() => assert.equal(listed.limit, 10))
check(() => assert.deepEqual(listed.customers[0], { id: customer.id, email, groups: [] }))
const byOperator = await admin.admin.customer.list({ email: [email], created_at: { $lte: new Date().toISOString() } })
check(() => assert.equal(byOperator.customers[0].id, customer.id))

const retrieved = await admin.admin.customer.retrieve(customer.id, { fields: "+addresses.city" })
check(() => assert.deepEqual(retrieved.customer.addresses, []))
await rejects(admin.admin.customer.retrieve("cus_missing"), 404, "Customer with id: cus_missing not found")

const { customer: updated } = await admin.admin.customer.update(customer.id, { last_name: "Kit", metadata: { tier: "gold" } })
check(() => assert.equal(updated.last_name, "Kit"))
check(() => assert.deepEqual(updated.metadata, { run: RUN, tier: "gold" }))

const { customer: withAddress } = await admin.admin.customer.createAddress(customer.id, {
  address_1: "1 Sdk Way", city: "Oslo", country_code: "no", is_default_billing: true,
})
check(() => assert.equal(withAddress.id, customer.id))
const { addresses, count } = await admin.admin.customer.listAddresses(customer.id)
check(() => assert.equal(count, 1))
const addressId = addresses[0].id
check(() => assert.match(addressId, /^cuaddr_/))
const { address } = await admin.admin.customer.retrieveAddress(customer.id, addressId)
check(() => assert.equal(address.city, "Oslo"))
await admin.admin.customer.updateAddress(customer.id, addressId, { city: "Bergen" })
const afterUpdate = await admin.admin.customer.retrieveAddress(customer.id, addressId)
check(() => assert.equal(afterUpdate.address.city, "Bergen"))
// SDK 2.21.2 types this as AdminCustomerResponse; the route answers Medusa's DeleteResponseWithParent
const removedAddress = /** @type {any} */ (await admin.admin.customer.deleteAddress(customer.id, addressId))
check(() => assert.deepEqual(
  [removedAddress.id, removedAddress.object, removedAddress.deleted, removedAddress.parent.id],
  [addressId, "customer_address", true, customer.id],
))

const { customer_group: group } = await admin.admin.customerGroup.create({ name: `SDK ${RUN}` })
check(() => assert.match(group.id, /^cusgroup_/))
await rejects(admin.admin.customerGroup.create({ name: `SDK ${RUN}` }), 400, `Customer group with name: SDK ${RUN}, already exists.`)
const { customer_group: batched } = await admin.admin.customerGroup.batchCustomers(group.id, { add: [customer.id] })
check(() => assert.equal(batched.id, group.id))
const members = await admin.admin.customer.list({ groups: group.id })
check(() => assert.deepEqual(members.customers.map((c) => c.id), [customer.id]))
const groupsOfCustomer = await admin.admin.customer.batchCustomerGroups(customer.id, { remove: [group.id] })
check(() => assert.equal(groupsOfCustomer.customer.id, customer.id))
const { customer_group: renamed } = await admin.admin.customerGroup.update(group.id, { name: `SDK ${RUN} renamed` })
check(() => assert.equal(renamed.name, `SDK ${RUN} renamed`))
const groups = await admin.admin.customerGroup.list({ q: RUN })
check(() => assert.equal(groups.count, 1))
const retrievedGroup = await admin.admin.customerGroup.retrieve(group.id, { fields: "id,*customers" })
check(() => assert.deepEqual(retrievedGroup.customer_group.customers, []))
const removedGroup = await admin.admin.customerGroup.delete(group.id)
check(() => assert.deepEqual(removedGroup, { id: group.id, object: "customer_group", deleted: true }))

const removed = await admin.admin.customer.delete(customer.id)
check(() => assert.deepEqual(removed, { id: customer.id, object: "customer", deleted: true }))
await rejects(admin.admin.customer.retrieve(customer.id), 404)

// API keys: a secret key gives admin access over Basic auth, until it is revoked
const { api_key: secret } = await admin.admin.apiKey.create({ title: `sdk ${RUN}`, type: "secret" })
check(() => assert.match(secret.token, /^sk_/))
const keyClient = new Medusa({ baseUrl: BASE_URL, apiKey: secret.token })
const viaKey = await keyClient.admin.customer.list({ limit: 1 })
check(() => assert.equal(viaKey.limit, 1))
const keys = await admin.admin.apiKey.list({ type: "secret" })
check(() => assert.ok(keys.api_keys.some((k) => k.id === secret.id && k.token === "")))
const { api_key: revoked } = await admin.admin.apiKey.revoke(secret.id)
check(() => assert.ok(revoked.revoked_at))
await rejects(keyClient.admin.customer.list(), 401, "Unauthorized")
const { api_key: publishable } = await admin.admin.apiKey.create({ title: `store ${RUN}`, type: "publishable" })
check(() => assert.match(publishable.token, /^pk_/))

// --- store: registration, /me and its addresses -----------------------------------------------
const store = new Medusa({ baseUrl: BASE_URL, publishableKey: publishable.token, auth: memory })
const shopperEmail = `shopper.${RUN}@example.com`
await store.auth.register("customer", "emailpass", { email: shopperEmail, password: "s3cret-pass" })
const { customer: shopper } = await store.store.customer.create({ email: shopperEmail, first_name: "Shop" })
check(() => assert.equal(shopper.email, shopperEmail))
// StoreCustomer's type lacks has_account, which the store's default fields return (SPEC §5.5)
check(() => assert.equal(/** @type {any} */ (shopper).has_account, true))
await store.auth.login("customer", "emailpass", { email: shopperEmail, password: "s3cret-pass" })
const { customer: me } = await store.store.customer.retrieve()
check(() => assert.equal(me.id, shopper.id))
check(() => assert.deepEqual(me.addresses, []))
const { customer: meUpdated } = await store.store.customer.update({ last_name: "Per" })
check(() => assert.equal(meUpdated.last_name, "Per"))
await rejects(store.store.customer.update(untyped({ email: "x@example.com" })), 400, "Invalid request: Unrecognized fields: 'email'")
const { customer: meWithAddress } = await store.store.customer.createAddress({ city: "Turku", country_code: "fi", is_default_shipping: true })
const myAddress = meWithAddress.addresses[0]
check(() => assert.equal(myAddress.is_default_shipping, true))
const myAddresses = await store.store.customer.listAddress()
check(() => assert.equal(myAddresses.count, 1))
const { address: mine } = await store.store.customer.retrieveAddress(myAddress.id)
check(() => assert.equal(mine.city, "Turku"))
await store.store.customer.updateAddress(myAddress.id, { city: "Espoo" })
const { address: moved } = await store.store.customer.retrieveAddress(myAddress.id)
check(() => assert.equal(moved.city, "Espoo"))
const deletedAddress = await store.store.customer.deleteAddress(myAddress.id)
check(() => assert.deepEqual([deletedAddress.object, deletedAddress.deleted], ["address", true]))
check(() => assert.deepEqual(deletedAddress.parent?.addresses, []))
await rejects(store.store.customer.retrieveAddress(myAddress.id), 404)
await rejects(new Medusa({ baseUrl: BASE_URL, auth: memory }).store.customer.retrieve(), 400)

console.log(`ok ${checks} checks`)
