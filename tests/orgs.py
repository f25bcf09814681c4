"""An organisation made straight in the database, for the tests of data/ that run without a server."""

from datetime import timedelta

from data.models import Profile, ProfileQueue, Queue, now


class Org:
    """The queues Support and Sales, each with its desk (a profile holding it)."""

    def __init__(self):
        self.support = Queue.create(name="Support", slug="support")
        self.sales = Queue.create(name="Sales", slug="sales")
        self.support_desk = self.profile("Support desk", self.support)
        self.sales_desk = self.profile("Sales desk", self.sales)

    @staticmethod
    def profile(name, *queues):
        profile = Profile.create(name=name)
        for queue in queues:
            ProfileQueue.create(profile=profile, queue=queue)
        return profile


def fresh(row):
    """The row as the database holds it now."""
    return type(row).get_by_id(row.id)


def later(seconds):
    return now() + timedelta(seconds=seconds)
