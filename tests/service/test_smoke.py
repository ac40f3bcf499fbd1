from customer_service import CustomerModuleService


async def test_create_and_retrieve(service: CustomerModuleService) -> None:
    created = await service.create_customers(
        {"email": "a@example.com", "first_name": "Ann", "addresses": [{"city": "Berlin"}]}
    )
    assert created.id and created.id.startswith("cus_")
    got = await service.retrieve_customer(created.id, {"relations": ["addresses", "groups"]})
    assert got.email == "a@example.com"
    assert got.addresses and got.addresses[0].city == "Berlin"
    assert got.groups == []
    found = await service.list_customers({"q": "ann"})
    assert [c.id for c in found] == [created.id]
