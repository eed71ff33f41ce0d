import { Model } from 'objection';

// The catalog tables. Relations are declared so queries can eager-load (withGraphFetched) a
// product's category without hand-written joins.

export class Category extends Model {
  static override tableName = 'categories';

  declare id: number;
  declare name: string;
}

export class Product extends Model {
  static override tableName = 'products';

  declare id: number;
  declare title: string;
  declare description: string;
  declare price: string; // numeric(12,2) comes back as a decimal string, on purpose
  declare category_id: number;
  declare created_at: Date;
  declare category?: Category;

  static override relationMappings = () => ({
    category: {
      relation: Model.BelongsToOneRelation,
      modelClass: Category,
      join: { from: 'products.category_id', to: 'categories.id' },
    },
  });
}

export class Store extends Model {
  static override tableName = 'stores';

  declare id: number;
  declare name: string;
  declare city: string;
  declare created_at: Date;
}

export class InventoryItem extends Model {
  static override tableName = 'inventory';

  declare id: number;
  declare store_id: number;
  declare product_id: number;
  declare quantity: number;
}
