import { Model } from 'objection';

export class User extends Model {
  static override tableName = 'users';

  declare id: number;
  declare username: string;
  declare email: string;
  declare password_hash: string;
  declare is_staff: boolean;
  declare created_at: Date;
}
